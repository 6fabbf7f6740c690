"""Plug a pruning method of your own into TraceRecorder: the PruningMethod shape.

A method is a PruningMethod subclass (accelsim/training/methods/base.py) that says, for
every parameter, which weights are stored. This one keeps the largest-magnitude weights
of each weight matrix, a shrinking share every step, and zeros the rest in place. It
trains a small MLP on scikit-learn's bundled digits, records, and prints the stored
weights per step (the trace's against the method's) and what the replay charges. Run
from the repository root:

    python docs/examples/custom_method.py
"""

import os
import tempfile

import torch
from torch import nn

import accelsim
from accelsim.trace import TraceReader
from accelsim.training.data import batches, load_dataset
from accelsim.training.methods import PruningMethod
from accelsim.training.recorder import TraceRecorder


class KeepLargest(PruningMethod):
    name = "keep_largest"  # a name accelsim does not know replays unstored weights as 0

    def __init__(self, model, final_keep=0.2, steps=10):
        super().__init__(model)  # self.entries: every parameter (name, role, param)
        self.final_keep, self.steps = final_keep, steps
        self.masks = {e.name: torch.ones_like(e.param, dtype=torch.bool)
                      for e in self.entries if e.role == "weight"}

    @torch.no_grad()
    def after_step(self):  # runs right after every optimizer.step() (attach)
        keep = 1 - (1 - self.final_keep) * min(1.0, (self.step_count + 1) / self.steps)
        for entry in self.entries:
            if entry.name in self.masks:
                magnitude = entry.param.abs().flatten()
                k = max(1, int(keep * magnitude.numel()))
                threshold = magnitude.topk(k).values.min()
                self.masks[entry.name] = entry.param.abs() >= threshold
                entry.param.mul_(self.masks[entry.name])

    def stored_mask(self, name):  # bool, shaped like the parameter; biases stay dense
        return self.masks[name] if name in self.masks else super().stored_mask(name)

    def hparams(self):  # JSON, into the trace header
        return {"final_keep": self.final_keep, "steps": self.steps}


torch.manual_seed(0)
data = load_dataset("digits")
model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
method = KeepLargest(model)
method.attach(optimizer)  # the method first: it masks, then the recorder records
expected = []
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "keep-largest.trace")
    with TraceRecorder(model, optimizer, path, method=method, net="mlp-64") as recorder:
        for step, (x, y) in enumerate(batches(data.train_x, data.train_y, 64, shuffle=False)):
            if step == 12:
                break
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            recorder.log(loss=loss.item())
            expected.append(method.stored_count())
    recorded = TraceReader(path).stored_counts().sum(axis=1)
    totals = accelsim.simulate(path, accelsim.load_hardware("dropback-edge")).totals
print(f"{'step':>4} {'stored (trace)':>15} {'stored (method)':>16}")
for step, (trace, own) in enumerate(zip(recorded, expected, strict=True), start=1):
    print(f"{step:4d} {int(trace):15d} {own:16d}")
print(f"weight DRAM reads per step: {totals['dram_read_bytes.weights'] / 12 / 1e3:.1f} kB")
