"""The Chrome / Perfetto timeline export: valid trace-event JSON whose tracks add up to
what the replay counts."""

import json
from collections import defaultdict

import pytest

from accelsim.export.chrome import chrome_trace, timeline_spans, write_chrome_trace
from accelsim.hw import load_hardware
from accelsim.sim import simulate

TRACE = "traces/lenet300-dropback25.trace"


@pytest.fixture(scope="module")
def hw():
    # Every operand through DRAM, so every DMA track has work (residency keeps some on chip).
    return load_hardware("dropback-edge").replace({"sram.residency": "none"})


@pytest.fixture(scope="module")
def two_steps(hw):
    """Spans of steps 1 and 2, every tile its own event, and the replay of those steps."""
    spans, info = timeline_spans(TRACE, hw, "1:3", max_events=10**9)
    return spans, info, simulate(TRACE, hw, steps="1:3")


def by_track(spans):
    tracks = defaultdict(list)
    for span in spans:
        tracks[span.track].append(span)
    return tracks


def within(spans, outer):
    return [s for s in spans if outer.start <= s.start < outer.end]


def layer_phases(spans):
    return [s for s in spans if s.track == "layer-phases"]


def test_file_is_trace_event_json_with_one_track_per_unit(hw, tmp_path):
    out = tmp_path / "step.json"
    summary = write_chrome_trace(TRACE, hw, None, str(out))
    text = out.read_text()
    trace = json.loads(text)
    assert set(trace) == {"traceEvents", "displayTimeUnit", "otherData"}
    assert trace["displayTimeUnit"] == "ns"
    assert trace["otherData"]["steps"] == [1]  # default: the first recorded step
    events = trace["traceEvents"]
    assert summary["events"] == len(events) and summary["bytes"] == len(text.encode())
    names = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    for track in ("PE array", "regen unit", "DMA load: weights", "DMA load: inputs",
                  "DMA load: gradients", "DMA store: outputs", "DMA store: gradients",
                  "DRAM channel 0", "layer-phases"):
        assert track in names.values(), track
    assert [e for e in events if e["ph"] == "M" and e["name"] == "process_name"]
    complete = [e for e in events if e["ph"] == "X"]
    for event in complete:
        assert event["tid"] in names and event["pid"] == 1
        assert event["dur"] >= 0 and event["ts"] >= 0
        if names[event["tid"]] != "step":
            assert {"layer", "phase"} <= set(event["args"])
    tiles = [e for e in complete if names[e["tid"]].startswith("DMA load")
             and e["args"]["phase"] != "update"]
    assert tiles and all({"fold", "chunk", "bytes"} <= set(e["args"]) for e in tiles)


def test_pe_array_is_busy_exactly_the_compute_cycles(two_steps):
    spans, _, _ = two_steps
    pe = by_track(spans)["PE array"]
    checked = 0
    for lp in layer_phases(spans):
        busy = sum(s.end - s.start for s in within(pe, lp))
        # The replay counts a GEMM's compute as the tiles' sum minus one (SCALE-Sim);
        # an update pass has no such offset.
        expected = lp.args["compute_cycles"] + (0 if lp.args["phase"] == "update" else 1)
        assert busy == pytest.approx(expected, rel=1e-12), lp.name
        checked += 1
    assert checked == 2 * 11  # LeNet-300-100: 3 fwd, 2 bwd_data, 3 bwd_weight, 3 update


def test_timeline_ends_where_the_replay_ends(two_steps, hw):
    spans, info, result = two_steps
    replay_cycles = result.per_step()["cycles"]
    assert info["step_cycles"] == pytest.approx(replay_cycles, rel=1e-12)
    assert max(s.end for s in spans) == pytest.approx(sum(replay_cycles), rel=1e-12)
    # Every GEMM's tiles, laid out by the pipeline, take the cycles the replay charges
    # (the layer-phases are offset by the replay's cycles, so this is what keeps the
    # tiles honest), and layer-phases follow one another without gaps.
    lps = layer_phases(spans)
    for lp in lps:
        if lp.args["phase"] != "update":
            assert lp.args["pipeline_cycles"] == pytest.approx(lp.args["cycles"], rel=1e-12)
    for before, after in zip(lps, lps[1:], strict=False):
        assert after.start == before.end
    # The file says the same in microseconds, to Perfetto's nanosecond.
    trace = chrome_trace(TRACE, hw, "1:2")
    end_us = max(e["ts"] + e["dur"] for e in trace["traceEvents"] if e["ph"] == "X")
    assert end_us == pytest.approx(replay_cycles[0] / hw.array.clock_hz * 1e6, abs=1e-3)


def test_no_two_events_on_one_track_overlap(two_steps, hw):
    spans, _, result = two_steps
    tracks = by_track(spans)
    for name, events in tracks.items():
        events = sorted(events, key=lambda s: (s.start, s.end))
        for before, after in zip(events, events[1:], strict=False):
            assert after.start >= before.end - 1e-9, (name, before, after)
    # One DRAM channel carries every load and store, one after another, and exactly the
    # bytes the replay counts.
    dram = tracks["DRAM channel 0"]
    assert {s.name.split()[0] for s in dram} >= {"read", "write"}
    moved = sum(s.args["bytes"] for s in dram)
    totals = result.totals
    assert moved == pytest.approx(totals["dram_read_bytes"] + totals["dram_write_bytes"],
                                  rel=1e-9)
    # Busy for those bytes at the bandwidth the model charges (the calibrated share of the
    # peak), less the one cycle by which the replay's count of each GEMM (its last store's
    # end minus one) cuts that last store.
    busy = sum(s.end - s.start for s in dram)
    gemms = sum(1 for lp in layer_phases(spans) if lp.args["phase"] != "update")
    charged = hw.dram_bytes_per_cycle * hw.dram.efficiency
    assert busy + gemms == pytest.approx(moved / charged, rel=1e-12)
    # In the file, as Perfetto reads it (whole nanoseconds), nothing overlaps either.
    trace = chrome_trace(TRACE, hw, "1:2", max_events=10**9)
    ns = defaultdict(list)
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            start = round(e["ts"] * 1000)
            ns[e["tid"]].append((start, start + round(e["dur"] * 1000)))
    for events in ns.values():
        events.sort()
        assert all(b[0] >= a[1] for a, b in zip(events, events[1:], strict=False))


def test_merging_tiles_keeps_busy_time_and_bytes(two_steps, hw):
    spans, _, _ = two_steps
    cap = 40
    merged, _ = timeline_spans(TRACE, hw, "1:3", max_events=cap)
    assert len(merged) < len(spans) / 4
    assert any(s.args.get("tiles", 1) > 1 for s in merged)
    full, few = by_track(spans), by_track(merged)
    assert set(full) == set(few)
    for track in full:
        for field in ("bytes", "values"):
            assert sum(s.args.get(field, 0) for s in few[track]) == pytest.approx(
                sum(s.args.get(field, 0) for s in full[track]), rel=1e-9)
        assert sum(s.end - s.start for s in few[track]) == pytest.approx(
            sum(s.end - s.start for s in full[track]), rel=1e-9)
        if track not in ("step", "layer-phases"):
            # Every tile is in exactly one event; merged events still never overlap.
            assert sum(s.args.get("tiles", 1) for s in few[track]) == len(full[track])
            events = sorted(few[track], key=lambda s: s.start)
            assert all(b.start >= a.end - 1e-9 for a, b in zip(events, events[1:],
                                                               strict=False))
    for lp in layer_phases(merged):
        tiles = [s for s in within(merged, lp) if s.track not in ("step", "layer-phases")]
        assert len(tiles) <= cap + 8  # the update pass is a handful of spans, never merged


def test_dma_streams_carry_each_operands_bytes(two_steps):
    spans, _, result = two_steps
    totals = result.totals
    assert totals["psum_spill_bytes"] == 0  # spills would ride on the store side
    tracks = by_track(spans)

    def moved(track):
        return sum(s.args["bytes"] for s in tracks[track])

    expected = {
        "DMA load: weights": totals["dram_read_bytes.weights"]
        + totals["dram_read_bytes.metadata"],
        "DMA load: inputs": totals["dram_read_bytes.inputs"],
        "DMA load: gradients": totals["dram_read_bytes.gradients"],
        "DMA store: weights": totals["dram_write_bytes.weights"]
        + totals["dram_write_bytes.metadata"],
        "DMA store: outputs": totals["dram_write_bytes.outputs"],
        "DMA store: gradients": totals["dram_write_bytes.gradients"],
    }
    for track, count in expected.items():
        assert count > 0 and moved(track) == pytest.approx(count, rel=1e-9), track
    # Regenerated weights: the replay's count, on the regen unit's track.
    regen = sum(s.args["values"] for s in tracks["regen unit"])
    assert regen == pytest.approx(totals["regen_values"], rel=1e-9)


def test_groups_run_one_after_another(hw):
    # A grouped convolution (none in LeNet): every group replays the same tiles.
    from accelsim.export.chrome import gemm_spans
    from accelsim.sim.gemm_cost import GemmShape, best_mapping, gemm_cost, tile_schedule
    from accelsim.sim.hardware import sim_params
    from accelsim.sim.lowering import Gemm, Operand
    from accelsim.sim.replay import PhaseCost

    params = sim_params(hw)
    shape = GemmShape(900, 72, 24, 3, 900 * 72 * 2, 72 * 24 * 2, 900 * 24 * 2, 900 * 24 * 4)
    mapping = best_mapping(shape, params.array)[0]
    cost = gemm_cost(shape, params.array)
    cycles = cost.cycles
    gemm = Gemm("dw", "fwd", 900, 72, 24, 3, Operand("inputs", 900 * 72 * 3),
                Operand("weights", 72 * 24 * 3), Operand("outputs", 900 * 24 * 3))
    work = PhaseCost(gemm, mapping, shape, 0.0, None, None, cycles, cost.compute_cycles)
    spans, pipeline = gemm_spans(work, params, 100.0, cycles, 1, 10**9)
    assert pipeline == pytest.approx(cycles, rel=1e-12)
    tracks = by_track(spans)
    schedule, _ = tile_schedule(shape, params.array)
    pe = tracks["PE array"]
    assert len(pe) == 3 * len(schedule.compute_cycles)
    assert sum(s.end - s.start for s in pe) == pytest.approx(3 * schedule.compute_cycles.sum())
    assert [s.args["group"] for s in pe[::len(schedule.compute_cycles)]] == [0, 1, 2]
    assert min(s.start for s in spans) == 100.0
    assert max(s.end for s in spans) == pytest.approx(100.0 + cycles, rel=1e-12)
    for events in tracks.values():
        assert all(b.start >= a.end - 1e-9 for a, b in zip(events, events[1:], strict=False))
