"""`accelsim export`: request traces that round-trip to the simulator's counts, the chrome
hand-off, and one clear line (exit 1, FILE untouched) for every bad input."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from accelsim.cli import main
from accelsim.export import requests as request_export
from accelsim.hw import Hardware, load_hardware
from accelsim.sim import simulate
from accelsim.sim.dram_replay import requests_by_step, step_records
from accelsim.sim.placement import separate_read_write
from accelsim.sim.results import INDEX
from accelsim.trace import open_trace

ROOT = Path(__file__).resolve().parents[1]
DROPBACK = str(ROOT / "traces" / "lenet300-dropback25.trace")
STEPS = "100:102"
DRAMSIM3_LINE = re.compile(r"0x([0-9a-f]+) (READ|WRITE) (\d+)")
RAMULATOR_LINE = re.compile(r"(LD|ST) 0x([0-9a-f]+)")


@pytest.fixture(scope="module")
def expected():
    """The simulator's side: the burst-model result of the steps and their requests."""
    hw = load_hardware("dropback-edge")
    result = simulate(DROPBACK, hw, steps=STEPS, dram_model="burst")
    with open_trace(DROPBACK) as reader:
        requests = list(requests_by_step(result, hw, reader.header,
                                         step_records(reader, result.steps)))
    return hw, result, requests


def export(tmp_path, fmt, *extra):
    out = tmp_path / f"requests.{fmt}"
    code = main(["export", DROPBACK, "--hw", "dropback-edge", "--format", fmt,
                 "--steps", STEPS, "--out", str(out), *extra])
    assert code == 0
    return out.read_text().splitlines()


def counted_from_rows(result, requests, burst_bytes):
    """Reads and writes per step, from the replay's rows and the placement's extents alone:
    each extent moves the bursts from its first byte's to its last byte's."""
    counts = []
    for index, step in enumerate(requests):
        per_direction = {"read": 0, "write": 0}
        for g, group in enumerate(step.groups):
            li, pi = result.layers.index(group.layer), result.phases.index(group.phase)
            counter = result.rows[index, li, pi,
                                  INDEX[f"dram_{group.direction}_bytes.{group.operand}"]]
            mine = step.extent_group == g
            starts = step.extent_starts[mine].astype(np.int64)
            ends = starts + step.extent_lengths[mine].astype(np.int64)
            assert int((ends - starts).sum()) == int(np.ceil(counter - 1e-6))
            per_direction[group.direction] += int(
                ((ends - 1) // burst_bytes - starts // burst_bytes + 1)[ends > starts].sum())
        counts.append(per_direction)
    return counts


def test_dramsim3_file_round_trips_to_the_simulators_requests(tmp_path, expected):
    hw, result, requests = expected
    lines = export(tmp_path, "dramsim3")
    parsed = [DRAMSIM3_LINE.fullmatch(line) for line in lines]
    assert all(parsed), next(line for line, m in zip(lines, parsed, strict=True) if not m)
    addresses = np.array([int(m[1], 16) for m in parsed], dtype=np.uint64)
    writes = np.array([m[2] == "WRITE" for m in parsed])
    cycles = np.array([int(m[3]) for m in parsed], dtype=np.int64)
    # Per step, reads and writes equal what the rows and extents say, and the totals equal
    # the burst model's own counts of the same steps.
    counts = counted_from_rows(result, requests, hw.dram.burst_bytes)
    sizes = [len(step) for step in requests]
    bounds = np.cumsum([0, *sizes])
    for index, count in enumerate(counts):
        part = slice(bounds[index], bounds[index + 1])
        assert int((~writes[part]).sum()) == count["read"]
        assert int(writes[part].sum()) == count["write"]
    assert len(lines) == result.dram["totals"]["requests"]
    assert int(writes.sum()) == result.dram["totals"]["writes"]
    # The same requests in the same order; step 101 issues after step 100's timeline.
    assert np.array_equal(addresses, np.concatenate([s.addresses for s in requests]))
    assert np.array_equal(writes, np.concatenate([s.is_write for s in requests]))
    assert np.all(np.diff(cycles) >= 0)
    offset = int(np.ceil(requests[0].duration_cycles))
    assert np.array_equal(cycles[bounds[1]:], requests[1].arrival + offset)


def parse_dramsim3(lines):
    parsed = [DRAMSIM3_LINE.fullmatch(line) for line in lines]
    assert all(parsed)
    return (np.array([int(m[1], 16) for m in parsed], dtype=np.uint64),
            np.array([m[2] == "WRITE" for m in parsed]),
            np.array([int(m[3]) for m in parsed], dtype=np.int64))


def export_hw(tmp_path, preset, *extra):
    # Every operand through DRAM: the update pass's read-then-write pairs and a busy HBM2
    # need the traffic on-chip residency would keep off the bus.
    description = tmp_path / f"{preset}-through-dram.toml"
    description.write_text(f'extends = "{preset}"\n[sram]\nresidency = "none"\n')
    out = tmp_path / f"{preset}{''.join(extra)}.dramsim3"
    code = main(["export", DROPBACK, "--hw", str(description), "--format", "dramsim3",
                 "--steps", STEPS, "--out", str(out), *extra])
    assert code == 0
    return parse_dramsim3(out.read_text().splitlines())


@pytest.mark.parametrize("preset", ["dropback-edge", "datacenter-hbm2"])
def test_dramsim3_export_never_reads_and_writes_one_burst_in_one_cycle(tmp_path, preset):
    # DRAMsim3's split-queue controller stalls for good on such a pair. The update pass
    # reads every stored weight burst and writes it back: the write goes a cycle later.
    addresses, writes, cycles = export_hw(tmp_path, preset)
    assert np.all(np.diff(cycles) >= 0)
    slots = {}
    for address, write, cycle in zip(addresses.tolist(), writes.tolist(), cycles.tolist(),
                                     strict=True):
        slots.setdefault((address, cycle), set()).add(write)
    assert all(len(kinds) == 1 for kinds in slots.values())
    # Not vacuous: reads followed by a write of the same burst one cycle later exist (the
    # pairs that used to share a cycle: 894 per DropBack step on dropback-edge).
    read_then_write = sum(1 for (address, cycle), kinds in slots.items()
                          if kinds == {True} and slots.get((address, cycle - 1)) == {False})
    assert read_then_write > 500


def test_separate_read_write_moves_the_other_direction_one_cycle_on():
    a, b = 0x1000, 0x2000
    addresses = np.array([a, a, b, a], dtype=np.uint64)
    order, arrival = separate_read_write(addresses, np.array([False, True, False, True]),
                                         np.array([5, 5, 5, 6]))
    assert order.tolist() == [0, 2, 1, 3] and arrival.tolist() == [5, 5, 6, 6]
    # A moved write meets a later read of the burst in its new cycle: the read moves too.
    order, arrival = separate_read_write(np.array([a, a, a], dtype=np.uint64),
                                         np.array([False, True, False]), np.array([5, 5, 6]))
    assert order.tolist() == [0, 1, 2] and arrival.tolist() == [5, 6, 7]
    # Nothing to separate: the arrivals are kept as they are.
    order, arrival = separate_read_write(np.array([a, b], dtype=np.uint64),
                                         np.array([False, True]), np.array([3, 3]))
    assert order.tolist() == [0, 1] and arrival.tolist() == [3, 3]


def test_paced_delays_as_little_as_needed_for_one_request_per_cycle():
    assert request_export.paced(np.array([0, 0, 0, 5, 5, 9])).tolist() == [0, 1, 2, 5, 6, 9]
    assert request_export.paced(np.array([3, 3]), after=4).tolist() == [5, 6]


def test_paced_dramsim3_export_has_one_request_per_cycle_in_the_same_order(tmp_path):
    addresses, writes, cycles = export_hw(tmp_path, "datacenter-hbm2")
    paced_addresses, paced_writes, paced_cycles = export_hw(tmp_path, "datacenter-hbm2",
                                                            "--pace")
    assert np.array_equal(paced_addresses, addresses)
    assert np.array_equal(paced_writes, writes)
    assert np.all(np.diff(cycles) >= 0) and (np.diff(cycles) == 0).any()  # HBM2: busy
    assert np.all(np.diff(paced_cycles) >= 1)
    assert np.all(paced_cycles >= cycles)


def test_ramulator_file_round_trips_to_the_simulators_requests(tmp_path, expected):
    hw, result, requests = expected
    lines = export(tmp_path, "ramulator")
    parsed = [RAMULATOR_LINE.fullmatch(line) for line in lines]
    assert all(parsed)
    stores = np.array([m[1] == "ST" for m in parsed])
    counts = counted_from_rows(result, requests, hw.dram.burst_bytes)
    assert int((~stores).sum()) == sum(c["read"] for c in counts)
    assert int(stores.sum()) == sum(c["write"] for c in counts)
    assert int(stores.sum()) == result.dram["totals"]["writes"]
    addresses = np.array([int(m[2], 16) for m in parsed], dtype=np.uint64)
    assert np.array_equal(addresses, np.concatenate([s.addresses for s in requests]))
    assert np.all(addresses % np.uint64(hw.dram.burst_bytes) == 0)


def test_chrome_is_handed_to_the_chrome_writer(tmp_path, monkeypatch, capsys):
    calls = []

    def write_chrome_trace(trace_path, hw, steps, out):
        calls.append((trace_path, hw, steps, out))
        return {"events": 3}

    fake = types.ModuleType("accelsim.export.chrome")
    fake.write_chrome_trace = write_chrome_trace
    monkeypatch.setitem(sys.modules, "accelsim.export.chrome", fake)
    out = tmp_path / "timeline.json"
    code = main(["export", DROPBACK, "--hw", "dropback-edge", "--format", "chrome",
                 "--steps", "5:6", "--out", str(out)])
    assert code == 0
    (trace_path, hw, steps, written), = calls
    assert (trace_path, steps, written) == (DROPBACK, "5:6", str(out))
    assert isinstance(hw, Hardware) and hw.name == "dropback-edge"
    assert "3 events" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["/no/such.trace", "--hw", "dropback-edge", "--format", "dramsim3"], "cannot open trace"),
    ([DROPBACK, "--hw", "dropback-edge", "--format", "dramsim3", "--steps", "1:x"],
     "--steps"),
    ([DROPBACK, "--hw", "dropback-edge", "--format", "dramsim3", "--steps", "900:"],
     "selects none"),
    ([DROPBACK, "--hw", "dropback-edge", "--format", "gem5"], "--format 'gem5'"),
    ([DROPBACK, "--hw", "scalesim-32x32-ws", "--format", "ramulator", "--steps", "1:2"],
     '"ideal"'),
    ([DROPBACK, "--hw", "no-such-preset", "--format", "ramulator"], "no-such-preset"),
    ([DROPBACK, "--hw", "dropback-edge", "--format", "ramulator", "--pace"], "--pace"),
    ([DROPBACK, "--hw", "dropback-edge", "--format", "chrome", "--pace"], "--pace"),
])
def test_bad_input_is_one_line_exit_1_and_the_file_untouched(args, message, tmp_path, capsys):
    out = tmp_path / "existing.txt"
    out.write_text("keep me\n")
    code = main(["export", *args, "--out", str(out)])
    err = capsys.readouterr().err
    lines = [line for line in err.split("\n") if line.strip()]
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("accelsim: error: "), err
    assert message in lines[0]
    assert out.read_text() == "keep me\n"
    assert list(tmp_path.iterdir()) == [out]  # no temporary left behind


def test_a_failure_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "requests.trace"
    out.write_text("old\n")
    written = []

    def failing(requests, fmt, offset=0, cycles=None):
        if written:
            raise RuntimeError("disk on fire")
        written.append(requests.step)
        return "0x0 READ 0\n"

    monkeypatch.setattr(request_export, "format_lines", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        request_export.write_request_trace(DROPBACK, load_hardware("dropback-edge"), STEPS,
                                           str(out), "dramsim3")
    assert written == [100]  # the first step was written to the temporary file
    assert out.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [out]
