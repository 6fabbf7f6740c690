"""SCALE-Sim topology CSVs as dense workloads, so SCALE-Sim users can move over.

A conv topology row is ``name, IFMAP H, IFMAP W, filter H, filter W, channels,
num filters, stride,`` (trailing comma allowed). The IFMAP is taken as given (SCALE-Sim
expects it already padded), batch 1, every weight stored: one dense step.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from accelsim.errors import ConfigError
from accelsim.trace import LayerInfo, StepRecord, TensorInfo, TraceHeader

COLUMNS = ("name", "ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters",
           "stride")


def read_topology(path: str | Path) -> TraceHeader:
    """The layers of a SCALE-Sim conv topology CSV as a dense trace header."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read topology: {err.strerror}") from None
    rows = [r for r in csv.reader(text.splitlines()) if any(cell.strip() for cell in r)]
    if not rows:
        raise ConfigError(f"{path}: empty topology")
    layers, tensors = [], []
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row if c.strip() != ""]
        if line == 1 and not cells[1].isdigit():
            continue  # the header row
        if len(cells) < len(COLUMNS):
            raise ConfigError(f"{path}:{line}: expected {len(COLUMNS)} columns "
                              f"({', '.join(COLUMNS)}), got {len(cells)}")
        name = cells[0]
        try:
            h, w, fh, fw, c, k, stride = (int(v) for v in cells[1:8])
        except ValueError:
            raise ConfigError(f"{path}:{line}: layer {name!r}: sizes must be integers") from None
        if min(h, w, fh, fw, c, k, stride) < 1 or fh > h or fw > w:
            raise ConfigError(f"{path}:{line}: layer {name!r}: impossible geometry "
                              f"(ifmap {h}x{w}, filter {fh}x{fw}, stride {stride})")
        # SCALE-Sim's own output size, ceil((H - F + S) / S): a topology means what it
        # means to SCALE-Sim (it differs from floor((H - F) / S) + 1 when S does not
        # divide H - F).
        out_h, out_w = -(-(h - fh + stride) // stride), -(-(w - fw + stride) // stride)
        tid = len(tensors)
        tensors.append(TensorInfo(tid, f"{name}.weight", name, "weight", (k, c, fh, fw)))
        layers.append(LayerInfo(name=name, kind="conv2d", weight_shape=(k, c, fh, fw),
                                stride=(stride, stride), padding=(0, 0), dilation=(1, 1),
                                groups=1, in_shape=(c, h, w), out_shape=(k, out_h, out_w),
                                tensor_ids=[tid]))
    if not layers:
        raise ConfigError(f"{path}: no layers")
    return TraceHeader(net=path.stem, layers=layers, tensors=tensors, batch_size=1,
                       dataset="scalesim-topology", extra={"topology": str(path)})


def dense_step(header: TraceHeader) -> StepRecord:
    """One step with every weight stored."""
    return StepRecord(step=1, stored_masks={t.tensor_id: np.ones(math.prod(t.shape), bool)
                                            for t in header.tensors})
