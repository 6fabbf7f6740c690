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
