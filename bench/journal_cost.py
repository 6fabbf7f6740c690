"""What per-step durability costs: time to rewrite a sample trace's records with
TraceWriter (append, plus the amend a recorder makes per step where the writer has it),
and the size of the result; run it under two checkouts to compare.

    PYTHONPATH=. python bench/journal_cost.py [TRACE]

Prints the median over 5 runs of the microseconds per step and the bytes written.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from accelsim.trace import TraceWriter, open_trace


def main(argv: list[str]) -> None:
    source = argv[0] if argv else "traces/lenet300-dropback25.trace"
    with open_trace(source) as reader:
        header, records = reader.header, list(reader.iter_changes())
    times, size = [], 0
    for _ in range(5):
        path = Path(tempfile.mkdtemp()) / "copy.trace"
        start = time.perf_counter()
        with TraceWriter(path, header, fsync=False) as writer:
            for record in records:
                writer.append(record)
                if hasattr(writer, "amend"):
                    writer.amend(loss=record.loss)
        times.append(time.perf_counter() - start)
        size = path.stat().st_size
    per_step = statistics.median(times) / len(records) * 1e6
    print(f"{source}: {len(records)} steps, {per_step:.0f} us per step, {size:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
