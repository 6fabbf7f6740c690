"""A seeded, fast fuzz of the reader: random damage and crafted mutations with every
checksum recomputed, through the Python API and `trace info`/`trace verify`: no crash,
no hang, no damaged file read back as different data (bench/trace_fuzz.py runs 10^4+)."""

from __future__ import annotations

import trace_fuzz


def test_fuzzed_traces_are_refused_or_read_back_exactly(tmp_path):
    results = trace_fuzz.run(cases_random=400, cases_crafted=300, seed=20261202,
                             workdir=tmp_path, cli_every=4, limit_s=10.0)
    assert results["bugs"] == [], results["bugs"][:5]
    random, crafted = results["random"], results["crafted"]
    assert random["refused"] > 300 and random["prefix"] > 10, random  # both kinds seen
    assert crafted["refused"] > 200, crafted
    assert not any(results[f][bug] for f in ("random", "crafted")
                   for bug in trace_fuzz.BUGS)


def test_a_damaged_journal_is_refused_or_read_as_a_prefix(tmp_path):
    """Random damage to the journal of a killed writer: never a crash, never steps that
    were not written."""
    import os

    import numpy as np

    from accelsim.errors import TraceError
    from accelsim.trace import TraceWriter, open_trace, verify

    full = tmp_path / "full.trace"
    trace_fuzz.make_trace(full)
    with open_trace(full) as reader:
        header, records = reader.header, list(reader.iter_changes())
        truth = [trace_fuzz._digest_record(r) for r in reader.iter_steps(masks=True)]
    killed = tmp_path / "killed.trace"
    writer = TraceWriter(killed, header, keyframe_every=7, chunk_steps=3, fsync=False)
    for record in records[:13]:  # the last ones only in the journal... then "killed"
        writer.append(record)
    writer.amend(loss=records[12].loss)
    trace_bytes = killed.read_bytes()
    journal = killed.with_name("killed.trace.journal")
    clean = journal.read_bytes()
    journal.unlink()
    in_chunks = verify(killed).num_steps  # what the trace holds without its journal
    assert 0 < in_chunks < 13
    os.close(writer._fd)
    writer._fd = None
    rng = np.random.default_rng(7)
    outcomes = {"refused": 0, "prefix": 0}
    for _ in range(150):
        damaged = bytearray(clean)
        kind = rng.integers(0, 3)
        at = int(rng.integers(0, len(damaged)))
        if kind == 0:
            damaged[at] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:
            del damaged[at:]
        else:
            damaged[at:at] = rng.integers(0, 256, 5, dtype=np.uint8).tobytes()
        journal.write_bytes(bytes(damaged))
        killed.write_bytes(trace_bytes)
        try:
            report = verify(killed)
            with open_trace(killed) as reader:
                got = [trace_fuzz._digest_record(r) for r in reader.iter_steps(masks=True)]
        except TraceError:
            outcomes["refused"] += 1
            continue
        assert report.status == "truncated"
        assert got == truth[:len(got)] and in_chunks <= len(got) <= 13, report.message
        outcomes["prefix"] += 1
    assert outcomes["refused"] > 50 and outcomes["prefix"] > 10, outcomes
