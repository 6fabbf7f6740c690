"""Fixtures for the sweep tests: specs written on the fly over the sample traces."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DENSE = ROOT / "traces" / "lenet300-dense.trace"
DROPBACK = ROOT / "traces" / "lenet300-dropback25.trace"
SAMPLES = (DENSE, DROPBACK)


@pytest.fixture
def write_spec(tmp_path):
    """write_spec(body, traces=SAMPLES, name="spec.toml") -> path of a spec file; the
    ``traces`` line is written first unless ``traces`` is None."""

    def write(body: str, traces=SAMPLES, name: str = "spec.toml") -> Path:
        head = "" if traces is None else (
            "traces = [" + ", ".join(f'"{t}"' for t in traces) + "]\n")
        path = tmp_path / name
        path.write_text(head + body, encoding="utf-8")
        return path

    return write
