"""DropBack (Golub, Lemieux, Lis, SysML 2019): train on a budget of k stored weights.

After every optimizer step each scored weight gets ``s = |w - w_scaffold|``, its
displacement from the value it would be regenerated to; exactly the top ``k`` over the
whole network (global scope) stay stored and every other weight is reset to its
regenerated initial value. Ties at the threshold go first to weights already stored,
then to the lowest flat index, so the choice is deterministic and causes no spurious
churn (after a reset many displacements are exactly 0).

Optimizer state: gradients, momentum and Adam moments are computed densely by the
optimizer, as in the reference code. With ``reset_optimizer_state`` (the default) the
per-weight state of every untracked weight is zeroed after each step, so only tracked
weights carry state between steps — which is what an accelerator storing k weights can
hold. A weight that re-enters the tracked set starts with fresh state (SGD momentum
0; Adam moments 0, bias correction still by the tensor's global step).

Variants: ``init_decay`` (the "decay to zero" variant: the scaffold of untracked
weights is ``w0 * decay**t``, so it fades to true zeros) and ``freeze_after`` (after
that many steps the tracked set stops changing; tracked weights keep training).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from accelsim.errors import ConfigError
from accelsim.jit import njit
from accelsim.training.init import RegenInit, init_from_regen, initial_tensor
from accelsim.training.methods.base import PruningMethod, flat_mask_deltas

_NORM_ROLES = ("norm_weight", "norm_bias")


@njit(cache=True)
def _kth_largest_bits(bits, k):
    """Bit pattern of the k-th largest value: two 16-bit radix histogram passes, O(n).

    Non-negative float32 values order exactly as their uint32 bit patterns.
    """
    high = np.zeros(65536, dtype=np.int64)
    for i in range(bits.shape[0]):
        high[bits[i] >> np.uint32(16)] += 1
    remaining = k
    top = 65535
    while high[top] < remaining:
        remaining -= high[top]
        top -= 1
    low = np.zeros(65536, dtype=np.int64)
    prefix = np.uint32(top)
    for i in range(bits.shape[0]):
        if bits[i] >> np.uint32(16) == prefix:
            low[bits[i] & np.uint32(0xFFFF)] += 1
    bottom = 65535
    while low[bottom] < remaining:
        remaining -= low[bottom]
        bottom -= 1
    return (prefix << np.uint32(16)) | np.uint32(bottom)


@njit(cache=True)
def _top_k_mask_kernel(bits, k, prefer, out):
    """out = the k largest; ties at the threshold go to ``prefer`` first, then low index."""
    threshold = _kth_largest_bits(bits, k)
    taken = 0
    for i in range(bits.shape[0]):
        out[i] = bits[i] > threshold
        taken += out[i]
    for wanted in (True, False):
        for i in range(bits.shape[0]):
            if taken == k:
                return
            if bits[i] == threshold and prefer[i] == wanted and not out[i]:
                out[i] = True
                taken += 1


def top_k_mask(scores: torch.Tensor, k: int, prefer: torch.Tensor) -> torch.Tensor:
    """Exactly ``k`` True at the largest (non-negative) scores.

    Ties go to ``prefer``, then to the lowest index. On the CPU a numba radix select
    (O(n)); elsewhere torch.topk and the same tie rule.
    """
    n = scores.numel()
    if k >= n:
        return torch.ones(n, dtype=torch.bool, device=scores.device)
    if k <= 0:
        return torch.zeros(n, dtype=torch.bool, device=scores.device)
    if scores.device.type == "cpu":
        mask = torch.empty(n, dtype=torch.bool)
        bits = scores.detach().contiguous().view(torch.int32).numpy().view(np.uint32)
        _top_k_mask_kernel(bits, k, prefer.contiguous().numpy(), mask.numpy())
        return mask
    threshold = torch.topk(scores, k, sorted=False).values.min()
    mask = scores > threshold
    need = k - int(mask.sum())
    for candidates in ((scores == threshold) & prefer, (scores == threshold) & ~prefer):
        if need <= 0:
            break
        index = candidates.nonzero().squeeze(1)[:need]
        mask[index] = True
        need -= index.numel()
    return mask


class DropBack(PruningMethod):
    """Keep the top-k weights by displacement from their regenerated initial values."""

    name = "dropback"

    def __init__(
        self,
        model: nn.Module,
        budget: int | None = None,
        compression: float | None = None,
        init: RegenInit | None = None,
        seed: int = 0,
        scheme: str = "lecun",
        include_biases: bool = True,
        include_norm: bool = True,
        init_decay: float | None = None,
        freeze_after: int | None = None,
        reset_optimizer_state: bool = True,
    ):
        super().__init__(model)
        self.init = init if init is not None else init_from_regen(model, seed, scheme)
        self.include_biases = include_biases
        self.include_norm = include_norm
        self.init_decay = init_decay
        self.freeze_after = freeze_after
        self.reset_optimizer_state = reset_optimizer_state
        self.scored = [e for e in self.entries if self._is_scored(e.role)]
        self.scored_total = sum(e.numel for e in self.scored)
        self._positions = {e.name: i for i, e in enumerate(self.scored)}
        self._names = [e.name for e in self.scored]
        self._sizes = [e.numel for e in self.scored]
        self.excluded_total = self.total_count() - self.scored_total
        self.budget = self._resolve_budget(budget, compression)
        self._check_options()
        self.initial = {
            e.name: initial_tensor(self.init.specs[e.name], self.init.seed, e) for e in self.scored
        }
        device = self.scored[0].param.device if self.scored else None
        # Before the first step every weight equals its initial value: nothing is stored.
        self._mask = torch.zeros(self.scored_total, dtype=torch.bool, device=device)
        self._previous = self._mask.clone()

    # -- configuration ---------------------------------------------------------------
    def _is_scored(self, role: str) -> bool:
        if role == "bias":
            return self.include_biases
        if role in _NORM_ROLES:
            return self.include_norm
        return True

    def _resolve_budget(self, budget: int | None, compression: float | None) -> int:
        total = self.total_count()
        if (budget is None) == (compression is None):
            raise ConfigError("dropback: give exactly one of budget (k) or compression")
        if compression is not None:
            if not compression >= 1.0 or math.isinf(compression):
                raise ConfigError(f"dropback: compression must be >= 1, got {compression}")
            budget = math.floor(total / compression) - self.excluded_total
            if budget < 1:
                raise ConfigError(
                    f"dropback: compression {compression}x leaves no budget: "
                    f"{self.excluded_total} excluded weights alone exceed {total}/{compression}"
                )
        if not 1 <= budget <= self.scored_total:
            raise ConfigError(
                f"dropback: budget {budget} must be between 1 and the {self.scored_total} "
                f"scored weights of the model"
            )
        return int(budget)

    def _check_options(self) -> None:
        if self.init_decay is not None and not 0.0 < self.init_decay <= 1.0:
            raise ConfigError(f"dropback: init_decay must be in (0, 1], got {self.init_decay}")
        if self.freeze_after is not None and self.freeze_after < 1:
            raise ConfigError(f"dropback: freeze_after must be >= 1, got {self.freeze_after}")
        missing = [e.name for e in self.scored if e.name not in self.init.specs]
        if missing:
            raise ConfigError(f"dropback: no initial-value spec for parameter {missing[0]!r}")

    # -- the step ------------------------------------------------------------------
    def _scaffold(self, name: str, step: int) -> torch.Tensor:
        """The value an untracked weight is reset to after ``step`` steps."""
        if self.init_decay is None:
            return self.initial[name]
        return self.initial[name] * torch.tensor(self.init_decay**step, dtype=torch.float32)

    @torch.no_grad()
    def after_step(self) -> None:
        step = self.step_count + 1
        scaffolds = [self._scaffold(e.name, step) for e in self.scored]
        self._previous = self._mask
        frozen = self.freeze_after is not None and self.step_count >= self.freeze_after
        if not frozen:
            scores = torch.cat(
                [(e.param - s).abs().flatten() for e, s in zip(self.scored, scaffolds, strict=True)]
            )
            self._mask = top_k_mask(scores, self.budget, prefer=self._previous)
        kept = self._split(self._mask)
        for entry, scaffold, keep in zip(self.scored, scaffolds, kept, strict=True):
            keep = keep.view(entry.param.shape)
            entry.param.copy_(torch.where(keep, entry.param, scaffold))
            if self.reset_optimizer_state:
                self._zero_optimizer_state(entry, keep)

    def _split(self, flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(flat, self._sizes)

    # -- masks -------------------------------------------------------------------------
    def _position(self, name: str) -> int | None:
        return self._positions.get(name)

    def stored_mask(self, name: str) -> torch.Tensor:
        position = self._position(name)
        if position is None:
            return super().stored_mask(name)
        return self._split(self._mask)[position].view(self.by_name[name].param.shape)

    def mask_delta(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        position = self._position(name)
        if position is None:
            return None
        now = self._split(self._mask)[position]
        before = self._split(self._previous)[position]
        entered = (now & ~before).nonzero().squeeze(1)
        left = (before & ~now).nonzero().squeeze(1)
        return entered, left

    def mask_deltas(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every scored tensor's delta from one pass over the flat masks."""
        return flat_mask_deltas(self._mask, self._previous, self._names, self._sizes)

    def stored_count(self) -> int:
        return int(self._mask.sum()) + self.excluded_total

    def hparams(self) -> dict[str, Any]:
        total = self.total_count()
        return {
            "budget": self.budget,
            "stored_weights": self.budget + self.excluded_total,
            "compression": total / (self.budget + self.excluded_total),
            "scope": "global",
            "include_biases": self.include_biases,
            "include_norm": self.include_norm,
            "init_decay": self.init_decay,
            "freeze_after": self.freeze_after,
            "reset_optimizer_state": self.reset_optimizer_state,
            "tie_break": "stored-first-then-lowest-index",
        }

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(mask=self._mask.clone(), previous=self._previous.clone(),
                     budget=self.budget, regen=self.init.to_dict())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["budget"] != self.budget or state["mask"].numel() != self.scored_total:
            raise ConfigError(
                f"dropback: state is for budget {state['budget']} over "
                f"{state['mask'].numel()} weights, this instance has {self.budget} over "
                f"{self.scored_total}"
            )
        super().load_state_dict(state)
        self._mask = state["mask"].clone().to(self._mask.device)
        self._previous = state["previous"].clone().to(self._mask.device)
