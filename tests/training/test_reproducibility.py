"""The trace header says what a recording's bytes depend on (threads, determinism), and
two recordings with the same settings are byte-identical."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from accelsim.trace import open_trace

sys.path.insert(0, str(Path(__file__).parent))
import recording_loop  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_header_records_threads_and_determinism(tmp_path):
    path = tmp_path / "r.trace"
    recording_loop.main(str(path), 5)
    with open_trace(path) as trace:
        repro = trace.header.reproducibility
    assert repro["torch_threads"] == torch.get_num_threads()
    assert repro["torch_version"] == torch.__version__
    assert repro["deterministic_algorithms"] == torch.are_deterministic_algorithms_enabled()
    assert {"torch_interop_threads", "cudnn_deterministic", "omp_num_threads"} <= set(repro)


def test_same_settings_give_the_same_bytes(tmp_path):
    a, b = tmp_path / "a.trace", tmp_path / "b.trace"
    recording_loop.main(str(a), 20)
    recording_loop.main(str(b), 20)
    assert a.read_bytes() == b.read_bytes()


def test_a_minor_0_trace_reads_with_no_reproducibility_record():
    with open_trace(ROOT / "traces" / "lenet300-dense.trace") as trace:
        assert trace.header.reproducibility == {}
