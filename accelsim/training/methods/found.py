"""Masks a user's model already carries, found with no accelsim method given:

* ``torch.nn.utils.prune``: a ``<name>_orig`` parameter with a ``<name>_mask`` buffer;
* ``torch.nn.utils.parametrize``-based sparsifiers (``torch.ao.pruning``, e.g.
  ``WeightNormSparsifier``): a parametrization of ``<name>`` holding a ``mask`` tensor
  shaped like the parameter (``FakeSparsity``), or one flag per output row
  (``FakeStructuredSparsity``, the structured pruners); its
  ``parametrizations.<name>.original`` is the stored tensor;
* optionally (``zeros_are_pruned=True``) exact zeros: a weight whose value is exactly 0
  after the optimizer step is not stored, for methods that zero weights in place.

What a :class:`TraceRecorder` uses with ``method=None``: the masked weights are the
stored set, pruned weights read as zero. Masks are read at every record, so a loop that
prunes again (``prune.*`` again, ``sparsifier.step()``) is followed step by step.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn.utils import parametrize

from accelsim.training.methods.base import PruningMethod, flat_mask_deltas

PRUNE = "torch.nn.utils.prune"
PARAMETRIZE = "torch.nn.utils.parametrize"
ZEROS = "exact zeros"
ROWS = "mask per row"  # FakeStructuredSparsity: mask[i] keeps or prunes row i


def _masks(model: nn.Module, unmatched: list | None = None
           ) -> dict[str, tuple[str, list[tuple[nn.Module, str]]]]:
    """Parameter name -> (source, [(holder, mask attribute)]) for every parameter a mask
    applies to. The masks are looked up at each read: pruning again replaces a prune
    buffer, a sparsifier rewrites its mask's data. A parametrization mask that is not
    shaped like its stored tensor is appended to ``unmatched``."""
    found = {}
    for module_name, module in model.named_modules():
        prefix = f"{module_name}." if module_name else ""
        buffers = dict(module.named_buffers(recurse=False))
        for attr, _ in module.named_parameters(recurse=False):
            if attr.endswith("_orig") and f"{attr[:-5]}_mask" in buffers:
                found[prefix + attr] = (PRUNE, [(module, f"{attr[:-5]}_mask")])
        if not parametrize.is_parametrized(module):
            continue
        for tensor, chain in module.parametrizations.items():
            original = getattr(chain, "original", None)  # not original0/1 (a tuple split)
            holders = []
            for p in chain:
                if not torch.is_tensor(getattr(p, "mask", None)):
                    continue
                if original is not None and tuple(p.mask.shape) == tuple(original.shape):
                    holders.append((p, "mask"))
                elif (original is not None and type(p).__name__ == "FakeStructuredSparsity"
                      and p.mask.dim() == 1 and original.dim() > 1
                      and p.mask.numel() == original.shape[0]):
                    holders.append((p, ROWS))  # torch.ao.pruning's structured: one per row
                elif unmatched is not None:
                    unmatched.append(f"{prefix}{tensor}")
            if holders:
                found[f"{prefix}parametrizations.{tensor}.original"] = (PARAMETRIZE, holders)
    return found


class FoundMasks(PruningMethod):
    """The stored set is each found mask (read every step, so a loop that prunes again
    is followed); tensors without a mask are stored densely, or, with
    ``zeros_are_pruned``, wherever their value is not exactly zero."""

    def __init__(self, model: nn.Module, zeros_are_pruned: bool = False):
        super().__init__(model)
        unmatched: list[str] = []
        self.masks = _masks(model, unmatched)
        if unmatched:
            warnings.warn(f"TraceRecorder: the mask of {', '.join(unmatched)} is not shaped "
                          "like the stored tensor; that tensor is recorded as stored densely",
                          stacklevel=3)
        self.zeros_are_pruned = zeros_are_pruned
        sources = {source for source, _ in self.masks.values()}
        # the name a trace has always carried for prune masks alone
        self.name = "torch_prune" if sources == {PRUNE} and not zeros_are_pruned \
            else "found_masks"
        self.sources = sorted(sources | ({ZEROS} if zeros_are_pruned else set()))
        self._last: dict[str, torch.Tensor] = {}

    def _current(self, name: str) -> torch.Tensor | None:
        """The flat stored mask of ``name`` now, or None when nothing prunes it."""
        where = self.masks.get(name)
        mask = None
        if where is not None:
            param = self.by_name[name].param
            # prune.remove() deletes the buffer and leaves the parameter dense
            mask = torch.ones(param.numel(), dtype=torch.bool, device=param.device)
            for holder, attr in where[1]:
                found = getattr(holder, "mask" if attr == ROWS else attr, None)
                if not torch.is_tensor(found):
                    continue
                found = found.detach() != 0
                if attr == ROWS:  # a mask per output row (filter) covers the whole row
                    found = found.view(-1, 1).expand(-1, param.numel() // found.numel())
                mask &= found.flatten()
        if self.zeros_are_pruned:
            # prune's weight_orig and a parametrization's original keep the values the
            # mask multiplies: mask & (original != 0) is exactly "the weight is not 0"
            nonzero = self.by_name[name].param.detach().flatten() != 0
            mask = nonzero if mask is None else mask & nonzero
        return mask

    def stored_mask(self, name: str) -> torch.Tensor:
        mask = self._current(name)
        if mask is None:
            return super().stored_mask(name)
        # the first read is the baseline mask_delta compares against; later reads (a
        # stored count, the recorder) must not move it
        self._last.setdefault(name, mask.clone())
        return mask.view(self.by_name[name].param.shape)

    def mask_delta(self, name: str):
        previous = self._last.get(name)
        current = None if previous is None else self._current(name)
        if current is None or torch.equal(current, previous):
            return None
        self._last[name] = current.clone()
        return ((current & ~previous).nonzero().squeeze(1),
                (previous & ~current).nonzero().squeeze(1))

    def mask_deltas(self) -> dict[str, tuple]:
        """Every masked tensor's delta at once: one comparison of all masks laid end to
        end (nothing to cut when no mask changed, the common case)."""
        names = [e.name for e in self.entries if e.name in self._last]
        if not names:
            return {}
        now = torch.cat([self._current(name) for name in names])
        before = torch.cat([self._last[name] for name in names])
        if torch.equal(now, before):
            return {}
        sizes = [self._last[name].numel() for name in names]
        self._last.update(zip(names, torch.split(now, sizes), strict=True))
        return flat_mask_deltas(now, before, names, sizes)

    def hparams(self) -> dict:
        kept = sum(int(self.stored_mask(e.name).sum()) for e in self.entries)
        return {"source": self.sources[0] if len(self.sources) == 1 else self.sources,
                "masked_tensors": sorted(self.masks), "zeros_are_pruned": self.zeros_are_pruned,
                "stored_weights": kept}


def found_method(model: nn.Module, zeros_are_pruned: bool = False) -> PruningMethod | None:
    """FoundMasks when the model carries masks (or zeros count as pruned), else None
    (dense)."""
    method = FoundMasks(model, zeros_are_pruned)
    return method if zeros_are_pruned or method.masks else None
