"""Pruning filters while training (Roy, Panda, Srinivasan, Raghunathan, arXiv 2003.02800).

Output filters of every ``nn.Conv2d`` are removed during training itself, no retraining.
The paper does not publish its schedule; ours is:

* ``rounds`` pruning events evenly spaced from step ``start_fraction * total_steps`` to step
  ``end_fraction * total_steps`` (both ends included, each rounded half up, at least 1; a
  single round happens at the end point). An event due at step ``s`` runs right after the
  optimizer step with index ``s - 1``, i.e. the first ``s`` steps train the full net.
* At event ``r`` (1..rounds) each conv loses filters until ``floor(target * r / rounds *
  out_channels)`` are pruned, never all of them (at least one filter remains). After the last
  event exactly ``floor(target * out_channels)`` filters of each conv are gone; training then
  continues (fine-tunes) with them dead.
* Criteria, smallest pruned first, ties to the lowest filter index: ``"l1"`` (sum of |w| of
  the filter's weights), ``"mean_activation"`` (mean |output| of the channel over the
  training forwards since the previous event, from a forward hook on every conv; with no
  forward in between every score is 0 and the lowest indices go), ``"random"`` (uniform
  scores from a ``torch.Generator`` seeded with ``seed``).

A pruned filter stays pruned and exactly zero: its weight and bias gradients are zeroed
before each optimizer step, its values and per-weight optimizer state (momentum, Adam
moments) after it, so neither weight decay nor momentum can revive it.

Downstream effect (what the simulator assumes): a BatchNorm after a pruned filter sees a
constant zero channel and outputs its constant ``beta`` (through ReLU, a constant), which
deployment folds into the next layer's bias; the simulator therefore drops the next layer's
matching input channels along with the pruned filters. The BatchNorm's own gamma and beta
stay stored here (they are not this method's to prune).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from accelsim.errors import ConfigError
from accelsim.training.methods.base import PruningMethod, _Handles
from accelsim.training.params import ParamEntry

CRITERIA = ("l1", "mean_activation", "random")


@dataclass
class PrunedConv:
    """One conv layer: its parameter entries, which filters are gone, activation stats."""

    layer: str
    module: nn.Conv2d
    weight: ParamEntry
    bias: ParamEntry | None
    pruned: torch.Tensor  # bool per output filter, True = pruned
    activation_sum: torch.Tensor | None = None
    activation_batches: int = 0
    left: torch.Tensor | None = None  # filters pruned by the last step's event

    @property
    def alive(self) -> torch.Tensor:
        return ~self.pruned

    def entries(self) -> list[ParamEntry]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]


class FilterPruning(PruningMethod):
    """Remove conv output filters in ``rounds`` events during training; they never return."""

    name = "filter_pruning"

    def __init__(
        self,
        model: nn.Module,
        target: float = 0.5,
        criterion: str = "l1",
        *,
        total_steps: int,
        start_fraction: float = 0.1,
        end_fraction: float = 0.6,
        rounds: int = 5,
        seed: int = 0,
    ):
        super().__init__(model)
        self.target = float(target)
        self.criterion = str(criterion)
        self.total_steps = int(total_steps)
        self.start_fraction = float(start_fraction)
        self.end_fraction = float(end_fraction)
        self.rounds = int(rounds)
        self.seed = int(seed)
        self._check_options(rounds)
        self.convs = self._find_convs()
        self.event_steps = self._event_steps()
        self.events_done = 0
        self.generator = torch.Generator().manual_seed(self.seed)
        self._by_param_name = {e.name: conv for conv in self.convs for e in conv.entries()}

    # -- configuration ---------------------------------------------------------------
    def _check_options(self, rounds: Any) -> None:
        if not 0.0 <= self.target < 1.0:
            raise ConfigError(f"filter_pruning: target must be in [0, 1), got {self.target}")
        if self.criterion not in CRITERIA:
            raise ConfigError(
                f"filter_pruning: unknown criterion {self.criterion!r}; "
                f"choose one of: {', '.join(CRITERIA)}"
            )
        if self.rounds != rounds or self.rounds < 1:
            raise ConfigError(f"filter_pruning: rounds must be an integer >= 1, got {rounds}")
        if self.total_steps < 1:
            raise ConfigError(f"filter_pruning: total_steps must be >= 1, got {self.total_steps}")
        if not 0.0 <= self.start_fraction < self.end_fraction <= 1.0:
            raise ConfigError(
                f"filter_pruning: need 0 <= start_fraction < end_fraction <= 1, got "
                f"start_fraction {self.start_fraction}, end_fraction {self.end_fraction}"
            )

    def _find_convs(self) -> list[PrunedConv]:
        by_role = {(e.layer, e.role): e for e in self.entries}
        convs = []
        for layer, module in self.model.named_modules():
            if not isinstance(module, nn.Conv2d):
                continue
            weight = by_role.get((layer, "weight"))
            if weight is None:  # frozen conv: not trained, not pruned
                continue
            bias = by_role.get((layer, "bias"))
            pruned = torch.zeros(module.out_channels, dtype=torch.bool, device=weight.param.device)
            convs.append(PrunedConv(layer, module, weight, bias, pruned))
        if not convs:
            raise ConfigError("filter_pruning: the model has no trainable nn.Conv2d layer")
        return convs

    def _event_steps(self) -> list[int]:
        """The step count at which each event is due (evenly spaced, both ends included)."""
        first = self.start_fraction * self.total_steps
        last = self.end_fraction * self.total_steps
        if self.rounds == 1:
            return [max(1, math.floor(last + 0.5))]
        spacing = (last - first) / (self.rounds - 1)
        return [max(1, math.floor(first + spacing * r + 0.5)) for r in range(self.rounds)]

    def pruned_goal(self, out_channels: int, event: int) -> int:
        """Filters of a conv with ``out_channels`` that are pruned after event ``event``."""
        # round() first so 0.29 * 100 counts as the 29 it means, not 28.999...
        wanted = math.floor(round(self.target * event * out_channels / self.rounds, 9))
        return min(wanted, out_channels - 1)

    # -- attaching -----------------------------------------------------------------
    def attach(self, optimizer: torch.optim.Optimizer) -> _Handles:
        """The optimizer hooks, plus a forward hook per conv for ``mean_activation``."""
        handles = [super().attach(optimizer)]
        if self.criterion == "mean_activation":
            for conv in self.convs:
                handles.append(conv.module.register_forward_hook(self._activation_hook(conv)))
        return _Handles(handles)

    @staticmethod
    def _activation_hook(conv: PrunedConv):
        def record(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if not module.training:
                return
            with torch.no_grad():
                dims = [d for d in range(output.dim()) if d != output.dim() - 3]
                mean = output.detach().abs().float().mean(dim=dims)
            if conv.activation_sum is None:
                conv.activation_sum = torch.zeros_like(mean)
            conv.activation_sum += mean
            conv.activation_batches += 1

        return record

    # -- the step ------------------------------------------------------------------
    @torch.no_grad()
    def before_step(self) -> None:
        for conv in self.convs:
            for entry in conv.entries():
                if entry.param.grad is not None:
                    entry.param.grad[conv.pruned] = 0

    @torch.no_grad()
    def after_step(self) -> None:
        for conv in self.convs:
            conv.left = None
        due = self.step_count + 1
        while self.events_done < self.rounds and due >= self.event_steps[self.events_done]:
            self.events_done += 1
            self._prune_event(self.events_done)
        self._hold_pruned_at_zero()

    def _prune_event(self, event: int) -> None:
        for conv in self.convs:
            more = self.pruned_goal(conv.pruned.numel(), event) - int(conv.pruned.sum())
            if more > 0:
                candidates = conv.alive.nonzero().squeeze(1)
                scores = self._scores(conv).to(candidates.device)[candidates].cpu()
                chosen = candidates[torch.sort(scores, stable=True).indices[:more].to(candidates)]
                conv.pruned[chosen] = True
                previous = conv.left if conv.left is not None else chosen[:0]
                conv.left = torch.cat([previous, chosen]).sort().values
            conv.activation_sum = None
            conv.activation_batches = 0

    def _scores(self, conv: PrunedConv) -> torch.Tensor:
        """One score per output filter; the smallest are pruned first."""
        channels = conv.pruned.numel()
        if self.criterion == "l1":
            return conv.weight.param.detach().abs().flatten(1).sum(1).float()
        if self.criterion == "random":
            return torch.rand(channels, generator=self.generator)
        if conv.activation_sum is None or conv.activation_batches == 0:
            return torch.zeros(channels)
        return conv.activation_sum / conv.activation_batches

    def _hold_pruned_at_zero(self) -> None:
        for conv in self.convs:
            if not bool(conv.pruned.any()):
                continue
            for entry in conv.entries():
                entry.param[conv.pruned] = 0
                self._zero_optimizer_state(entry, self._broadcast(conv.alive, entry))

    @staticmethod
    def _broadcast(per_filter: torch.Tensor, entry: ParamEntry) -> torch.Tensor:
        shape = (-1,) + (1,) * (entry.param.dim() - 1)
        return per_filter.view(shape).expand(entry.param.shape)

    # -- masks -------------------------------------------------------------------------
    def structure_mask(self, name: str) -> torch.Tensor | None:
        conv = self._by_param_name.get(name)
        return None if conv is None else conv.alive.clone()

    def stored_mask(self, name: str) -> torch.Tensor:
        conv = self._by_param_name.get(name)
        if conv is None:
            return super().stored_mask(name)
        return self._broadcast(conv.alive, self.by_name[name]).clone()

    def mask_delta(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        conv = self._by_param_name.get(name)
        if conv is None or conv.left is None:
            return None
        entry = self.by_name[name]
        per_filter = entry.param[0].numel() if entry.param.dim() > 1 else 1
        offsets = torch.arange(per_filter, device=conv.left.device)
        left = (conv.left.unsqueeze(1) * per_filter + offsets).flatten()
        return torch.empty(0, dtype=torch.int64, device=left.device), left

    def hparams(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "criterion": self.criterion,
            "total_steps": self.total_steps,
            "start_fraction": self.start_fraction,
            "end_fraction": self.end_fraction,
            "rounds": self.rounds,
            "seed": self.seed,
            "event_steps": list(self.event_steps),
            "layers": [conv.layer for conv in self.convs],
            "scope": "per-layer",
            "tie_break": "lowest-index",
        }

    # -- checkpointing -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(
            events_done=self.events_done,
            pruned={conv.layer: conv.pruned.clone() for conv in self.convs},
            generator=self.generator.get_state(),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pruned = state["pruned"]
        shapes = {conv.layer: conv.pruned.numel() for conv in self.convs}
        if {layer: mask.numel() for layer, mask in pruned.items()} != shapes:
            raise ConfigError(
                f"filter_pruning: state covers conv layers {sorted(pruned)} with other filter "
                f"counts than this model's {sorted(shapes)}"
            )
        super().load_state_dict(state)
        self.events_done = int(state["events_done"])
        for conv in self.convs:
            conv.pruned = pruned[conv.layer].clone().to(conv.pruned.device)
            conv.left = None
            conv.activation_sum = None
            conv.activation_batches = 0
        self.generator.set_state(state["generator"])
