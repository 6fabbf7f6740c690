"""A DropBack training loop under a TraceRecorder that prints each step number once
``optimizer.step()`` (and the loss logged after it) has returned; run as a script by the
kill tests and by bench/recording_kills.py, which SIGKILL it at random moments.

    python recording_loop.py TRACE STEPS [PAUSE_S [overwrite]]
"""

from __future__ import annotations

import sys
import time

import torch
from torch import nn

from accelsim.training.methods import DropBack
from accelsim.training.recorder import TraceRecorder


def main(path: str, steps: int, pause_s: float = 0.0, overwrite: bool = False) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    method = DropBack(model, budget=100, seed=1)
    method.attach(optimizer)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 16, generator=gen), torch.randint(0, 4, (32,), generator=gen)
    with TraceRecorder(model, optimizer, path, method=method, net="loop",
                       keyframe_every=16, overwrite=overwrite) as recorder:
        for step in range(1, steps + 1):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            recorder.log(loss=loss.item())
            print(step, flush=True)  # optimizer.step() returned for this step
            if pause_s:
                time.sleep(pause_s)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 0.0,
         sys.argv[4:] == ["overwrite"])
