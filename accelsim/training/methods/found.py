"""Masks a user's model already carries: ``torch.nn.utils.prune`` (``<name>_orig``
parameter, ``<name>_mask`` buffer). What a :class:`TraceRecorder` uses with
``method=None``: the masked weights are the stored set, pruned weights read as zero.
"""

from __future__ import annotations

import torch
from torch import nn

from accelsim.training.methods.base import PruningMethod


def _masks(model: nn.Module) -> dict[str, tuple[nn.Module, str]]:
    """Parameter name -> (module, mask buffer name), for every ``*_orig`` with a
    ``*_mask``. The buffer is looked up at each read: pruning again replaces it."""
    found = {}
    for module_name, module in model.named_modules():
        buffers = dict(module.named_buffers(recurse=False))
        for attr, _ in module.named_parameters(recurse=False):
            if attr.endswith("_orig") and f"{attr[:-5]}_mask" in buffers:
                name = f"{module_name}.{attr}" if module_name else attr
                found[name] = (module, f"{attr[:-5]}_mask")
    return found


class FoundMasks(PruningMethod):
    """The stored set is each ``torch.nn.utils.prune`` mask (read every step, so a loop
    that prunes again is followed); tensors without a mask are stored densely."""

    name = "torch_prune"

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.masks = _masks(model)
        self._last: dict[str, torch.Tensor] = {}

    def _mask(self, name: str) -> torch.Tensor | None:
        where = self.masks.get(name)
        return None if where is None else getattr(where[0], where[1])

    def stored_mask(self, name: str) -> torch.Tensor:
        mask = self._mask(name)
        if mask is None:
            return super().stored_mask(name)
        current = mask.detach() != 0
        # the first read is the baseline mask_delta compares against; later reads (a
        # stored count, the recorder) must not move it
        self._last.setdefault(name, current.flatten().clone())
        return current

    def mask_delta(self, name: str):
        mask = self._mask(name)
        previous = self._last.get(name)
        if mask is None or previous is None:
            return None
        current = (mask.detach() != 0).flatten()
        if torch.equal(current, previous):
            return None
        self._last[name] = current.clone()
        return ((current & ~previous).nonzero().squeeze(1),
                (previous & ~current).nonzero().squeeze(1))

    def hparams(self) -> dict:
        kept = sum(int(self.stored_mask(e.name).sum()) for e in self.entries)
        return {"source": "torch.nn.utils.prune", "masked_tensors": sorted(self.masks),
                "stored_weights": kept}


def found_method(model: nn.Module) -> PruningMethod | None:
    """FoundMasks when the model carries prune masks, else None (dense)."""
    return FoundMasks(model) if _masks(model) else None
