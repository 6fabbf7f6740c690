"""SIGKILL a recording DropBack loop at random moments and count completed steps lost.

    PYTHONPATH=. python bench/recording_kills.py [KILLS [SEED]]

Each run starts tests/training/recording_loop.py (a TraceRecorder on a small DropBack
MLP, printing each step once optimizer.step() and the loss logged after it returned),
kills it with SIGKILL after a random delay, then reads the trace (and its journal) back.
A step is lost when the loop printed it but the trace does not hold it. Prints the
kills, the steps completed and lost, and how many traces were intact/truncated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LOOP = ROOT / "tests" / "training" / "recording_loop.py"
sys.path.insert(0, str(ROOT))

from accelsim.errors import TraceError  # noqa: E402
from accelsim.trace import open_trace, verify  # noqa: E402


def main(argv: list[str]) -> int:
    kills = int(argv[0]) if argv else 100
    rng = np.random.default_rng(int(argv[1]) if len(argv) > 1 else 1)
    workdir = Path(tempfile.mkdtemp(prefix="accelsim-kills-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    lost_total = completed_total = runs_losing = 0
    statuses: Counter = Counter()
    for run in range(kills):
        path = workdir / f"kill-{run}.trace"
        proc = subprocess.Popen([sys.executable, str(LOOP), str(path), "100000"], env=env,
                                stdout=subprocess.PIPE, text=True)
        first = proc.stdout.readline()  # the loop is recording
        time.sleep(float(rng.uniform(0.0, 1.5)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = ([int(first)] if first.strip() else []) + [
            int(s) for s in proc.stdout.read().split()]
        try:
            status = verify(path).status
            with open_trace(path) as reader:
                held = set(reader.steps.tolist())
        except TraceError as err:
            status, held = f"unreadable: {err}", set()
        statuses[status] += 1
        lost = [s for s in done if s not in held]
        completed_total += len(done)
        lost_total += len(lost)
        runs_losing += bool(lost)
    print(f"{kills} SIGKILLs: {completed_total} completed steps, {lost_total} lost, "
          f"{runs_losing} kills lost at least one; traces: "
          + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    return 1 if lost_total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
