"""Pruning-while-training methods, one per module, one interface (PruningMethod)."""

from accelsim.training.methods.base import PruningMethod
from accelsim.training.methods.dense import Dense
from accelsim.training.methods.dropback import DropBack
from accelsim.training.methods.filter_pruning import FilterPruning
from accelsim.training.methods.swd import SelectiveWeightDecay

METHODS: dict[str, type[PruningMethod]] = {
    "dense": Dense,
    "dropback": DropBack,
    "swd": SelectiveWeightDecay,
    "filter_pruning": FilterPruning,
}

__all__ = [
    "METHODS",
    "Dense",
    "DropBack",
    "FilterPruning",
    "PruningMethod",
    "SelectiveWeightDecay",
]
