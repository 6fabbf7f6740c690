"""SWD, Selective Weight Decay (Tessier et al., J. Imaging 2022): prune by a growing penalty.

Every step, before the optimizer update, the mask ``m`` of what the target criterion would
keep is recomputed from the current weights and the gradient of
``weight_decay * a(t) / 2 * || w * (1 - m) ||^2`` is added to ``.grad``, with
``a(t) = a_min * (a_max / a_min) ** min(t / T, 1)`` (``T`` = the prune step: the last step,
or ``(1 - finetune_fraction) * total_steps`` with fine-tuning). The weights the
mask drops are pulled harder and harder toward zero; ``finalize`` then prunes them once.

* Unstructured: one global magnitude ranking over every non-normalisation parameter
  (roles ``weight`` and ``bias``); ``m`` keeps the ``round((1 - target) * n)`` largest
  ``|w|`` (exact top-k; ties go to weights the previous mask kept, then to the lowest index).
* Structured: BatchNorm channels ranked globally by ``|gamma|`` and pruned smallest-first
  (ties to the earlier channel) until the parameters they account for reach
  ``target * total`` (all trainable parameters of the model), so the pruned share
  overshoots the target by less than one channel. A channel accounts for its gamma and
  beta and, when the BatchNorm directly follows a convolution (the preceding leaf module in
  registration order, with as many output channels as the BatchNorm has features), that
  conv's filter ``weight[c]`` and ``bias[c]``. Our reading: such a conv feeds the BatchNorm,
  so a channel whose gamma and beta are zero makes the filter useless. The penalty acts on
  gamma and beta only; ``finalize`` also zeroes the paired filter.

Stability clamp (ours, not the paper's; ``coefficient_cap="1/lr"``, the default): the
penalty coefficient ``weight_decay * a(t)`` is capped per parameter at ``1 / lr`` of its
optimizer group, so one plain SGD step removes at
most the whole weight and never pushes it past zero. Without it ``a_max = 1e5``,
``weight_decay = 5e-4``, ``lr = 0.1`` gives ``lr * coefficient = 5`` and the pruned weights
oscillate with growing amplitude (with momentum ``mu`` heavy-ball SGD stays stable up to
``lr * coefficient < 2 (1 + mu)``, so the cap is safe there too). ``penalty()`` and
``coefficient()`` are unclamped. ``coefficient_cap="none"`` is the reference's behaviour.

Schedule end: ``schedule_end="prune"`` (default) makes ``a(t)`` reach ``a_max`` at the hard
prune (``T`` = the prune step, 90% of the steps with the default fine-tuning), as the
reference's does at the end of its SWD epochs before it fine-tunes in extra epochs;
``schedule_end="run"`` takes the reference's ``T`` = training epochs x batches per epoch
with every epoch of the run counted, so with fine-tuning inside the run ``a`` has covered
90% of its (log) range at the prune. On LeNet-5 / digits at 90% (30 epochs, 3 seeds)
"run" lost 0.74 points against dense, "prune" 1.02, no cap diverged at lr 0.1
(bench/swd_reference_accuracy.py, docs/performance.md).

Defaults: the paper's a_min = 0.1 and weight_decay = 5e-4, but a_max = 1e6 instead of its
1e5. The paper trains CIFAR for hundreds of epochs with a decaying lr; in a short run at a
constant lr (LeNet-5 on digits, 30 epochs, lr 0.1) a_max = 1e5 starts pulling the dropped
weights hard only in the last ~15% of the steps and lost 2.2 points of test accuracy at 90%
(mean of 4 seeds); a_max = 1e6 reaches the cap at ~76% of the run and lost 1.2 (6 seeds).

Fine-tuning (the paper's optional step): with ``finetune_fraction = f`` (default 0.1) the
hard prune happens after ``(1 - f) * total_steps`` steps and the last ``f`` of training
fine-tunes the kept weights with the pruned ones held at zero; ``f = 0`` prunes after the
last step. On LeNet-5 / digits at 90% (30 epochs, 3 seeds) f = 0.1 lost 0.65 points
against dense, f = 0 lost 1.94 (bench/lenet5_pruning_accuracy.py).

Memory: until the prune every weight is stored (SWD saves memory at inference, not in
training), so ``stored_mask`` is all True until ``finalize``; afterwards it is ``m``
(``mask_delta`` reports the weights that left until the next step). In structured mode
``structure_mask`` gives the channels of each BN's gamma/beta and its paired conv: all
present during training (so a trace header sees the structure from step 1), ``m`` after
``finalize``. If training continues after ``finalize`` (fine-tuning), the pruned weights
are held at zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from accelsim.errors import ConfigError
from accelsim.training.methods.base import PruningMethod
from accelsim.training.methods.dropback import top_k_mask
from accelsim.training.params import ParamEntry

_SCORED_ROLES = ("weight", "bias")
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass(frozen=True)
class ChannelGroup:
    """One BatchNorm's channels: its gamma/beta and, if paired, the conv that feeds it."""

    gamma: ParamEntry
    beta: ParamEntry
    conv_weight: ParamEntry | None
    conv_bias: ParamEntry | None

    @property
    def channels(self) -> int:
        return self.gamma.numel

    @property
    def params_per_channel(self) -> int:
        count = 2
        if self.conv_weight is not None:
            count += self.conv_weight.param[0].numel()
        if self.conv_bias is not None:
            count += 1
        return count

    def entries(self) -> list[ParamEntry]:
        candidates = (self.gamma, self.beta, self.conv_weight, self.conv_bias)
        return [e for e in candidates if e is not None]


class SelectiveWeightDecay(PruningMethod):
    """Decay the weights the target mask drops with a geometrically growing coefficient."""

    name = "swd"

    def __init__(
        self,
        model: nn.Module,
        target: float = 0.9,
        structured: bool = False,
        weight_decay: float = 5e-4,
        a_min: float = 0.1,
        a_max: float = 1e6,
        *,
        total_steps: int,
        finetune_fraction: float = 0.1,
        coefficient_cap: str = "1/lr",
        schedule_end: str = "prune",
    ):
        super().__init__(model)
        self.target = float(target)
        self.structured = bool(structured)
        self.weight_decay = float(weight_decay)
        self.a_min = float(a_min)
        self.a_max = float(a_max)
        self.total_steps = int(total_steps)
        self.finetune_fraction = float(finetune_fraction)
        self.coefficient_cap = str(coefficient_cap)
        self.schedule_end = str(schedule_end)
        if self.coefficient_cap not in ("1/lr", "none"):
            raise ConfigError(f"swd: coefficient_cap must be '1/lr' or 'none', got "
                              f"{self.coefficient_cap!r}")
        if self.schedule_end not in ("prune", "run"):
            raise ConfigError(f"swd: schedule_end must be 'prune' or 'run', got "
                              f"{self.schedule_end!r}")
        if not 0.0 <= self.finetune_fraction < 1.0:
            raise ConfigError(f"swd: finetune_fraction must be in [0, 1), got "
                              f"{self.finetune_fraction}")
        # The hard prune happens after this step (the last one when not fine-tuning); the
        # penalty's schedule reaches a_max there.
        self.prune_step = max(1, round((1.0 - self.finetune_fraction) * self.total_steps))
        self.schedule_steps = self.prune_step if self.schedule_end == "prune" \
            else self.total_steps
        self._check_options()
        self.finalized = False
        self._left: dict[str, torch.Tensor] = {}
        if self.structured:
            self.groups = _channel_groups(model, self.entries)
            self._check_structured()
            self.scored: list[ParamEntry] = []
            size = sum(g.channels for g in self.groups)
        else:
            self.groups = []
            self.scored = [e for e in self.entries if e.role in _SCORED_ROLES]
            size = sum(e.numel for e in self.scored)
            self.keep_count = round((1.0 - self.target) * size)
        device = self.entries[0].param.device if self.entries else None
        # The keep-mask m (flat over scored weights, or over all BN channels); all kept
        # until the first step computes it.
        self._mask = torch.ones(size, dtype=torch.bool, device=device)

    # -- configuration ---------------------------------------------------------------
    def _check_options(self) -> None:
        if not 0.0 <= self.target < 1.0:
            raise ConfigError(f"swd: target must be in [0, 1), got {self.target}")
        if not self.weight_decay >= 0.0 or math.isinf(self.weight_decay):
            raise ConfigError(f"swd: weight_decay must be >= 0, got {self.weight_decay}")
        if not 0.0 < self.a_min <= self.a_max or math.isinf(self.a_max):
            raise ConfigError(
                f"swd: need 0 < a_min <= a_max < inf, got a_min {self.a_min}, a_max {self.a_max}"
            )
        if self.total_steps < 1:
            raise ConfigError(f"swd: total_steps must be >= 1, got {self.total_steps}")

    def _check_structured(self) -> None:
        if not self.groups:
            raise ConfigError("swd: structured mode needs BatchNorm layers; the model has none")
        prunable = sum(g.channels * g.params_per_channel for g in self.groups)
        goal = self.target * self.total_count()
        if prunable < goal:
            raise ConfigError(
                f"swd: structured target {self.target} is unreachable: BatchNorm channels "
                f"account for {prunable} of {self.total_count()} parameters"
            )

    # -- schedule --------------------------------------------------------------------
    def schedule(self, step: int | None = None) -> float:
        """a(t) = a_min * (a_max / a_min) ** min(t / T, 1), t = ``step`` (default: now),
        T = ``schedule_steps``."""
        t = self.step_count if step is None else step
        progress = min(max(t, 0) / max(self.schedule_steps, 1), 1.0)
        return self.a_min * (self.a_max / self.a_min) ** progress

    def coefficient(self, step: int | None = None) -> float:
        """The penalty coefficient weight_decay * a(t), unclamped."""
        return self.weight_decay * self.schedule(step)

    # -- the mask --------------------------------------------------------------------
    @torch.no_grad()
    def _current_mask(self) -> torch.Tensor:
        """The keep-mask the target criterion gives for the current weights."""
        if self.structured:
            return self._channel_mask()
        scores = torch.cat([e.param.detach().abs().flatten().float() for e in self.scored])
        return top_k_mask(scores, self.keep_count, prefer=self._mask)

    def _channel_mask(self) -> torch.Tensor:
        gammas = torch.cat([g.gamma.param.detach().abs().flatten().float() for g in self.groups])
        counts = torch.cat(
            [
                torch.full((g.channels,), g.params_per_channel, dtype=torch.int64)
                for g in self.groups
            ]
        )
        order = torch.sort(gammas.cpu(), stable=True).indices
        accounted = torch.cumsum(counts[order], 0)
        goal = self.target * self.total_count()
        pruned = 0
        if goal > 0:
            pruned = int(torch.searchsorted(accounted.double(), goal, side="left")) + 1
        keep = torch.ones(gammas.numel(), dtype=torch.bool)
        keep[order[:pruned]] = False
        return keep.to(self._mask.device)

    def _entry_masks(self, mask: torch.Tensor) -> list[tuple[ParamEntry, torch.Tensor]]:
        """(entry, keep shaped like the parameter) for every entry the mask covers."""
        if not self.structured:
            parts = torch.split(mask, [e.numel for e in self.scored])
            return [(e, p.view(e.param.shape)) for e, p in zip(self.scored, parts, strict=True)]
        pairs = []
        for group, keep in zip(self.groups, self._channel_parts(mask), strict=True):
            for entry in group.entries():
                shape = (-1,) + (1,) * (entry.param.dim() - 1)
                pairs.append((entry, keep.view(shape).expand(entry.param.shape)))
        return pairs

    def _channel_parts(self, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(mask, [g.channels for g in self.groups])

    def _penalised(self, mask: torch.Tensor) -> list[tuple[ParamEntry, torch.Tensor]]:
        """Entries the penalty acts on: scored weights, or gamma and beta (structured)."""
        if not self.structured:
            return self._entry_masks(mask)
        return [
            (entry, keep)
            for group, keep in zip(self.groups, self._channel_parts(mask), strict=True)
            for entry in (group.gamma, group.beta)
        ]

    # -- the step --------------------------------------------------------------------
    def penalty(self) -> torch.Tensor:
        """weight_decay * a(t) / 2 * ||w * (1 - m)||^2 at the current step (differentiable)."""
        mask = self._current_mask()
        total = sum(
            (torch.where(keep, 0.0, e.param) ** 2).sum() for e, keep in self._penalised(mask)
        )
        return self.coefficient() / 2 * torch.as_tensor(total)

    @torch.no_grad()
    def before_step(self) -> None:
        if self.finalized:
            for entry, keep in self._entry_masks(self._mask):
                if entry.param.grad is not None:
                    entry.param.grad.masked_fill_(~keep, 0)
            return
        self._mask = self._current_mask()
        coefficient = self.coefficient()
        learning_rates = self._learning_rates()
        for entry, keep in self._penalised(self._mask):
            lr = learning_rates.get(id(entry.param), 0.0)
            capped = min(coefficient, 1.0 / lr) \
                if lr > 0 and self.coefficient_cap == "1/lr" else coefficient
            if entry.param.grad is None:
                entry.param.grad = torch.zeros_like(entry.param)
            entry.param.grad.add_(torch.where(keep, 0.0, entry.param), alpha=capped)

    def _learning_rates(self) -> dict[int, float]:
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None:
            return {}
        return {
            id(p): float(group["lr"]) for group in optimizer.param_groups for p in group["params"]
        }

    @torch.no_grad()
    def after_step(self) -> None:
        self._left = {}
        if self.finalized:
            self._hold_pruned_at_zero()
        elif self.finetune_fraction and self.step_count + 1 >= self.prune_step:
            self.finalize()  # then fine-tune the kept weights for the remaining steps

    @torch.no_grad()
    def finalize(self) -> None:
        """The hard prune: zero every weight outside m; from now on only m is stored."""
        if self.finalized:
            return
        self._mask = self._current_mask()
        self.finalized = True
        self._hold_pruned_at_zero()
        self._left = {
            entry.name: (~keep).flatten().nonzero().squeeze(1)
            for entry, keep in self._entry_masks(self._mask)
        }

    def _hold_pruned_at_zero(self) -> None:
        for entry, keep in self._entry_masks(self._mask):
            entry.param.masked_fill_(~keep, 0)
            self._zero_optimizer_state(entry, keep)

    # -- masks -------------------------------------------------------------------------
    def _keep_for(self, name: str) -> torch.Tensor | None:
        for entry, keep in self._entry_masks(self._mask):
            if entry.name == name:
                return keep
        return None

    def keep_mask(self, name: str) -> torch.Tensor | None:
        """The mask m (shaped like the parameter) of the last step, None if m skips it."""
        keep = self._keep_for(name)
        return None if keep is None else keep.clone()

    def stored_mask(self, name: str) -> torch.Tensor:
        keep = self._keep_for(name) if self.finalized else None
        if keep is None:
            return super().stored_mask(name)
        return keep.clone()

    def structure_mask(self, name: str) -> torch.Tensor | None:
        """Structured mode: channels per BN gamma/beta and paired conv, all True until finalize."""
        if not self.structured:
            return None
        for group, keep in zip(self.groups, self._channel_parts(self._mask), strict=True):
            if any(e.name == name for e in group.entries()):
                return keep.clone() if self.finalized else torch.ones_like(keep)
        return None

    def mask_delta(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        left = self._left.get(name)
        if left is None:
            return None
        return torch.empty(0, dtype=torch.int64, device=left.device), left

    def hparams(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "target": self.target,
            "structured": self.structured,
            "weight_decay": self.weight_decay,
            "a_min": self.a_min,
            "a_max": self.a_max,
            "total_steps": self.total_steps,
            "finetune_fraction": self.finetune_fraction,
            "prune_step": self.prune_step,
            "scope": "global",
            "coefficient_cap": self.coefficient_cap,
            "schedule_end": self.schedule_end,
            "schedule_steps": self.schedule_steps,
        }
        if self.structured:
            values["criterion"] = "batchnorm-gamma"
            values["channels"] = sum(g.channels for g in self.groups)
        else:
            values["criterion"] = "magnitude"
            values["kept_weights"] = self.keep_count
            values["scored_weights"] = sum(e.numel for e in self.scored)
        return values

    # -- checkpointing -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(finalized=self.finalized, mask=self._mask.clone(), structured=self.structured)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["structured"] != self.structured or state["mask"].numel() != self._mask.numel():
            raise ConfigError(
                f"swd: state is for a {'structured' if state['structured'] else 'unstructured'} "
                f"mask over {state['mask'].numel()} entries, this instance has "
                f"{'a structured' if self.structured else 'an unstructured'} mask over "
                f"{self._mask.numel()}"
            )
        super().load_state_dict(state)
        self.finalized = bool(state["finalized"])
        self._mask = state["mask"].clone().to(self._mask.device)
        self._left = {}


def _channel_groups(model: nn.Module, entries: list[ParamEntry]) -> list[ChannelGroup]:
    """Every affine BatchNorm with the conv it directly follows (if channel counts match)."""
    by_role = {(e.layer, e.role): e for e in entries}
    groups = []
    previous: tuple[str, nn.Module] | None = None
    for module_name, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        if isinstance(module, _BATCH_NORMS) and module.affine:
            gamma = by_role.get((module_name, "norm_weight"))
            beta = by_role.get((module_name, "norm_bias"))
            conv_weight = conv_bias = None
            if previous is not None and _feeds(previous[1], module):
                conv_weight = by_role.get((previous[0], "weight"))
                conv_bias = by_role.get((previous[0], "bias"))
            if gamma is not None and beta is not None:
                groups.append(ChannelGroup(gamma, beta, conv_weight, conv_bias))
        previous = (module_name, module)
    return groups


def _feeds(conv: nn.Module, norm: nn.Module) -> bool:
    return (
        isinstance(conv, _CONVS) and not conv.transposed and conv.out_channels == norm.num_features
    )
