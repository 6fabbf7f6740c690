"""Fuzz the trace reader at scale: random damage and crafted mutations (every checksum
recomputed) of a small trace, each read through the Python API and through
`accelsim trace info` / `trace verify` (in-process), under a 4 GiB address-space limit
so that an oversized allocation shows as a crash, not as swapping.

    PYTHONPATH=. python bench/trace_fuzz.py [RANDOM [CRAFTED [SEED]]]

Prints the outcome counts per family (see tests/trace/trace_fuzz.py) and every bug case;
exits 1 when there is one. Defaults: 10,000 random, 2,500 crafted, seed 1.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "trace"))

import trace_fuzz  # noqa: E402


def main(argv: list[str]) -> int:
    n_random = int(argv[0]) if argv else 10_000
    n_crafted = int(argv[1]) if len(argv) > 1 else 2_500
    seed = int(argv[2]) if len(argv) > 2 else 1
    limit = 4 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    workdir = Path(tempfile.mkdtemp(prefix="accelsim-fuzz-"))
    start = time.monotonic()
    results = trace_fuzz.run(n_random, n_crafted, seed, workdir, cli_every=1, limit_s=10.0)
    elapsed = time.monotonic() - start
    for family in ("random", "crafted"):
        counts = results[family]
        print(f"{family:8s} {sum(counts.values()):6d} cases: " + ", ".join(
            f"{name} {count}" for name, count in sorted(counts.items())))
    for bug in results["bugs"]:
        print("BUG", *bug)
    print(f"{len(results['bugs'])} bugs (crash, hang over 10 s, silent acceptance) in "
          f"{elapsed:.0f} s; cases kept in {workdir}")
    return 1 if results["bugs"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
