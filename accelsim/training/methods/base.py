"""The interface every pruning-while-training method implements.

Shaped like ``torch.ao.pruning.BaseSparsifier`` and like an optimizer: construct it on a
model, ``attach`` it to any torch optimizer (step pre/post hooks, removable), and it
exposes for every parameter tensor the *stored mask* (which weights live in memory) and,
where the method has one, the *structure mask* (which filters/channels exist).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from accelsim.errors import ConfigError
from accelsim.training.params import ParamEntry, parameter_table


class _Handles:
    """Removes several hook handles at once (what ``attach`` returns)."""

    def __init__(self, handles):
        self._handles = list(handles)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


class PruningMethod:
    """Base class: dense bookkeeping; subclasses override the hooks they need."""

    name = "base"

    def __init__(self, model: nn.Module):
        self.model = model
        self.entries: list[ParamEntry] = parameter_table(model)
        self.by_name: dict[str, ParamEntry] = {e.name: e for e in self.entries}
        self.step_count = 0

    # -- attaching -----------------------------------------------------------------
    def attach(self, optimizer: torch.optim.Optimizer) -> _Handles:
        """Run ``before_step``/``after_step`` around every ``optimizer.step()``."""
        managed = {id(e.param) for e in self.entries}
        optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if not managed <= optimized:
            missing = [e.name for e in self.entries if id(e.param) not in optimized]
            raise ConfigError(
                f"{self.name}: the optimizer does not update {len(missing)} parameter(s) "
                f"of the model, e.g. {missing[0]!r}"
            )
        self.optimizer = optimizer
        pre = optimizer.register_step_pre_hook(lambda opt, args, kwargs: self.before_step())
        post = optimizer.register_step_post_hook(lambda opt, args, kwargs: self._post_step())
        return _Handles([pre, post])

    def _post_step(self) -> None:
        self.after_step()
        self.step_count += 1

    def before_step(self) -> None:
        """Called after backward, before the optimizer updates (gradients are ready)."""

    def after_step(self) -> None:
        """Called right after the optimizer updated the weights."""

    def finalize(self) -> None:
        """Called once when training ends (e.g. SWD's hard prune)."""

    # -- what the recorder and the simulator read ----------------------------------
    def stored_mask(self, name: str) -> torch.Tensor:
        """Boolean tensor shaped like the parameter: True where the value lives in memory."""
        param = self.by_name[name].param
        return torch.ones(param.shape, dtype=torch.bool, device=param.device)

    def structure_mask(self, name: str) -> torch.Tensor | None:
        """Boolean per output filter/channel, or None when the method has no structure."""
        return None

    def mask_delta(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Flat indices that entered and left the stored set in the last step.

        None means "unchanged". Methods that know their delta return it, so the recorder
        need not compare whole masks.
        """
        return None

    def mask_deltas(self) -> dict[str, tuple[torch.Tensor | np.ndarray,
                                             torch.Tensor | np.ndarray]]:
        """Every tensor's ``mask_delta`` of the last step at once: name -> (entered,
        left) for the tensors whose stored set may have changed (a name left out is
        unchanged). What the recorder calls once per record; a method holding one flat
        mask overrides it with one vectorised pass (:func:`flat_mask_deltas`)."""
        deltas = {}
        for entry in self.entries:
            delta = self.mask_delta(entry.name)
            if delta is not None:
                deltas[entry.name] = delta
        return deltas

    def stored_count(self) -> int:
        return sum(int(self.stored_mask(e.name).sum()) for e in self.entries)

    def total_count(self) -> int:
        return sum(e.numel for e in self.entries)

    def hparams(self) -> dict[str, Any]:
        """The method's hyper-parameters, JSON-serialisable, for the trace header."""
        return {}

    # -- checkpointing -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])

    # -- helpers for subclasses ----------------------------------------------------
    @torch.no_grad()
    def _zero_optimizer_state(self, entry: ParamEntry, keep: torch.Tensor) -> None:
        """Zero per-weight optimizer state (momentum, Adam moments) where ``keep`` is False."""
        state = getattr(self, "optimizer", None)
        if state is None:
            return
        for value in state.state.get(entry.param, {}).values():
            if torch.is_tensor(value) and value.shape == entry.param.shape:
                value.masked_fill_(~keep, 0)


def flat_mask_deltas(now: torch.Tensor, before: torch.Tensor, names: list[str],
                     sizes: list[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(entered, left) flat indices per tensor from two flat masks laid end to end in
    ``names`` order: one XOR and one ``nonzero`` over the whole model (one copy to the
    host), then the sorted change list is cut at the tensors' boundaries."""
    if not names:
        return {}
    changed = (now ^ before).nonzero().squeeze(1)
    entering = now[changed].cpu().numpy()
    changed = changed.cpu().numpy()
    ends = np.cumsum(np.asarray(sizes, dtype=np.int64))
    cuts = np.searchsorted(changed, ends[:-1])
    deltas = {}
    for name, start, where, enters in zip(names, ends - np.asarray(sizes, dtype=np.int64),
                                          np.split(changed, cuts), np.split(entering, cuts),
                                          strict=True):
        local = where - start
        deltas[name] = (local[enters], local[~enters])
    return deltas
