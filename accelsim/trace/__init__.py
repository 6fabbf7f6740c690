"""Trace files: what a training run kept in memory per step (numpy only, never torch).

Write with :class:`TraceWriter`, read with :func:`open_trace`, check with :func:`verify`.
The byte layout is specified in docs/trace-format.md.
"""

from accelsim.trace.model import (
    FORMAT_VERSION,
    LayerInfo,
    StepRecord,
    TensorInfo,
    TraceHeader,
)
from accelsim.trace.reader import TraceReader, open_trace
from accelsim.trace.verify import VerifyReport, verify
from accelsim.trace.writer import TraceWriter

__all__ = [
    "FORMAT_VERSION",
    "LayerInfo",
    "StepRecord",
    "TensorInfo",
    "TraceHeader",
    "TraceReader",
    "TraceWriter",
    "VerifyReport",
    "open_trace",
    "verify",
]
