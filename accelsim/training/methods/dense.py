"""Dense training: every weight is stored, nothing is pruned."""

from accelsim.training.methods.base import PruningMethod


class Dense(PruningMethod):
    """The baseline: the base class's all-stored masks, no hooks doing work."""

    name = "dense"
