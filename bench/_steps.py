"""What the training-side benchmarks time: one plain cross-entropy training step."""

from __future__ import annotations

import time

from torch import nn


def timed_step(model, optimizer, batch) -> float:
    """Seconds for zero_grad, forward, backward and optimizer.step() on one batch."""
    x, y = batch
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    return time.perf_counter() - start
