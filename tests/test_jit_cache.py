"""numba caching falls back to no cache, with one warning, where no cache is writable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from accelsim import jit

ROOT = Path(__file__).resolve().parents[1]


def test_a_cache_failure_compiles_uncached_and_warns_once(monkeypatch, capsys):
    calls = []

    def fake_njit(**options):
        calls.append(options)
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file")
        return lambda function: function

    monkeypatch.setattr(numba, "njit", fake_njit)
    monkeypatch.setattr(jit, "_warned", False)
    for _ in range(3):
        assert jit.njit(cache=True)(len) is len
    assert calls[-1] == {"cache": False}
    assert capsys.readouterr().err.count("accelsim: warning: numba finds no writable") == 1


def test_other_numba_errors_are_not_hidden(monkeypatch):
    def fake_njit(**options):
        raise RuntimeError("something else")

    monkeypatch.setattr(numba, "njit", fake_njit)
    with pytest.raises(RuntimeError, match="something else"):
        jit.njit(cache=True)(len)


def test_every_kernel_module_uses_the_fallback():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "accelsim").rglob("*.py")
                 if "from numba import njit" in p.read_text()]
    assert offenders == []


def test_no_cache_location_at_all_still_simulates(tmp_path):
    """numba with no usable cache locator (what a read-only install without a writable
    home gives): one warning line, the replay runs, exit 0."""
    env = dict(os.environ, PYTHONPATH=str(ROOT),
               NUMBA_CACHE_LOCATOR_CLASSES="IPythonCacheLocator")  # finds none outside IPython
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "accelsim.cli", "simulate",
                           str(ROOT / "traces" / "lenet300-dense.trace"), "--hw",
                           "dropback-edge", "--steps", "1:2", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("numba finds no writable cache directory") == 1
    assert "Traceback" not in proc.stderr and out.exists()
