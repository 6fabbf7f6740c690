"""A Chrome trace-event timeline of chosen steps, one track per unit; opens in Perfetto.

For every chosen step, layer and phase in execution order (forward through the layers,
backward through them in reverse, then the update pass), the GEMM's tiles are replayed by
the fast fidelity's pipeline recurrence (:func:`accelsim.sim.pipeline.pipeline_timeline_kernel`)
and laid on the timeline: when each tile's load holds the DRAM channel, its weights are
regenerated, the PE array computes it and its store holds the channel. Layer-phases follow
one another, each offset by the previous one's cycles as the replay counts them, so the
step ends exactly where ``accelsim simulate`` says it does. The update pass of a layer is
one span per unit (it streams; there are no tiles).

Tracks (threads of one "accelerator" process): the step, the layer-phases, the PE array,
the regen unit, one DMA load and one DMA store track per operand stream (weights — values
and metadata —, inputs, outputs, gradients, optimizer state) and one per DRAM channel.
The replay models DRAM as one channel at the description's aggregate bandwidth; a
channel-interleaved address mapping spreads every transfer over all channels, so each
channel track shows the same busy interval carrying ``1/channels`` of the bytes.

Within a tile's load, the weight (B) part is drawn first and the streamed operand (A)
after it. The replay counts a GEMM's cycles as its last store's end minus one
(SCALE-Sim's convention), so whatever would run into that last cycle is cut at the
layer-phase's end. A layer-phase whose tiles would give more than ``max_events`` events
has consecutive tiles merged per track: a merged event starts where its first tile starts,
lasts the sum of their busy times (so busy totals and bytes are kept) and says how many
tiles it holds and the span they really covered.

Timestamps are microseconds of the accelerator clock, rounded to whole nanoseconds (what
Perfetto keeps), so that events that abut in cycles abut in the file too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accelsim import __version__
from accelsim.files import write_text_atomic
from accelsim.hw import Hardware, load_hardware
from accelsim.sim.gemm_cost import tile_schedule
from accelsim.sim.hardware import sim_params
from accelsim.sim.pipeline import (
    COMPUTE_END,
    COMPUTE_START,
    LOAD_END,
    LOAD_START,
    REGEN_END,
    REGEN_START,
    STORE_END,
    STORE_START,
    TIMELINE_COLUMNS,
    pipeline_timeline_kernel,
)
from accelsim.sim.placement import execution_order
from accelsim.sim.replay import PhaseCost, SimParams, replay, select_steps
from accelsim.sim.results import INDEX, counter
from accelsim.sim.workload import require_layer_work_only
from accelsim.trace import open_trace

DEFAULT_MAX_EVENTS = 256  # per layer-phase: a ResNet-18 step stays a few MB
PID = 1
# Operand streams as the DMA tracks name them (metadata travels with the weights).
STREAMS = ("weights", "inputs", "outputs", "gradients", "optimizer_state")
FIXED_TRACKS = ("step", "layer-phases", "PE array", "regen unit",
                *(f"DMA load: {s}" for s in STREAMS), *(f"DMA store: {s}" for s in STREAMS))


@dataclass(frozen=True)
class Span:
    """One event of the timeline, in cycles from the start of the first chosen step."""

    track: str
    name: str
    start: float
    end: float
    args: dict[str, Any] = field(default_factory=dict)
    category: str = ""


# -- tiles on the timeline -------------------------------------------------------------------
@dataclass
class _Track:
    """Events of one track within one layer-phase, in time order (arrays of equal length)."""

    name: str
    start: np.ndarray
    end: np.ndarray
    tile: np.ndarray  # tile index (over groups) of each event
    amount: np.ndarray  # bytes moved (or values regenerated)
    kind: np.ndarray  # 0 read / load, 1 write / store (DRAM tracks)


def gemm_spans(work: PhaseCost, params: SimParams, offset: float, cycles: float,
                channels: int, max_events: int) -> tuple[list[Span], float]:
    """The tiles' events, and the cycles the pipeline counts for them (all groups)."""
    cfg = params.array
    schedule, (mapping, _, traffic) = tile_schedule(work.shape, cfg, work.regen_values,
                                                    work.fold_weight_share,
                                                    work.fold_regen_share, work.mapping)
    chunks = mapping.chunks
    n = schedule.compute_cycles.shape[0]
    if n == 0:
        return [], 0.0
    times = np.empty((n, TIMELINE_COLUMNS))
    last_store = pipeline_timeline_kernel(schedule.compute_cycles, schedule.load_bytes,
                                          schedule.store_bytes, schedule.regen_cycles,
                                          schedule.dram_bytes_per_cycle, times)
    folds = n // chunks
    share = work.fold_weight_share
    if share is None or share.shape[0] != folds:
        share = np.full(folds, 1.0 / folds)
    tile = np.arange(n)
    b_part = np.where(tile % chunks == 0, traffic[1] * share[np.minimum(tile // chunks,
                                                                        folds - 1)], 0.0)
    b_part = np.minimum(b_part, schedule.load_bytes)
    # Groups run one after another, each a copy of the schedule (gemm_cost's count).
    groups = work.shape.groups
    times = (times[None] + (np.arange(groups) * last_store)[:, None, None]).reshape(
        -1, TIMELINE_COLUMNS)
    times = np.minimum(times + offset, offset + cycles)
    tile = np.arange(n * groups)

    def rep(values):
        return np.tile(values, groups)

    bpc = schedule.dram_bytes_per_cycle
    load_start, load_end = times[:, LOAD_START], times[:, LOAD_END]
    b_end = np.minimum(load_start + rep(b_part) / bpc, load_end)
    zeros, ones = np.zeros(tile.size, dtype=np.int8), np.ones(tile.size, dtype=np.int8)
    a_stream, b_stream, o_stream = (operand.traffic for operand in work.gemm.operands)
    tracks = [
        _Track("PE array", times[:, COMPUTE_START], times[:, COMPUTE_END], tile,
               np.zeros(tile.size), zeros),
        _Track(f"DMA load: {b_stream}", load_start, b_end, tile, rep(b_part), zeros),
        _Track(f"DMA load: {a_stream}", b_end, load_end, tile,
               rep(schedule.load_bytes - b_part), zeros),
        _Track(f"DMA store: {o_stream}", times[:, STORE_START], times[:, STORE_END], tile,
               rep(schedule.store_bytes), ones),
        _Track("regen unit", times[:, REGEN_START], times[:, REGEN_END], tile,
               rep(schedule.regen_cycles) * cfg.regen_lanes, zeros),
    ]
    dram_order = np.lexsort((np.concatenate([load_end, times[:, STORE_END]]),
                             np.concatenate([load_start, times[:, STORE_START]])))
    dram = [np.concatenate(pair)[dram_order] for pair in (
        (load_start, times[:, STORE_START]), (load_end, times[:, STORE_END]), (tile, tile),
        (rep(schedule.load_bytes), rep(schedule.store_bytes)), (zeros, ones))]
    tracks += [_Track(f"DRAM channel {c}", dram[0], dram[1], dram[2], dram[3] / channels,
                      dram[4]) for c in range(channels)]
    # Drop what does not happen (a tile without weights to load or regenerate).
    tracks = [_drop_empty(t) for t in tracks]
    tracks = [t for t in tracks if t.start.size]
    cap = max(1, max_events // max(len(tracks), 1))
    spans = []
    for track in tracks:
        spans += _track_spans(track, work, chunks, n, cap)
    return spans, groups * last_store - 1


def _drop_empty(track: _Track) -> _Track:
    keep = (track.end > track.start) | (track.amount > 0)
    if track.name == "PE array":
        keep = track.end > track.start
    return _Track(track.name, *(a[keep] for a in (track.start, track.end, track.tile,
                                                  track.amount, track.kind)))


def _track_spans(track: _Track, work: PhaseCost, chunks: int, tiles_per_group: int,
                 cap: int) -> list[Span]:
    """One Span per event, or per run of consecutive events when there are over ``cap``."""
    count = track.start.size
    per = -(-count // cap)
    firsts = np.arange(0, count, per)
    busy = np.add.reduceat(track.end - track.start, firsts)
    amount = np.add.reduceat(track.amount, firsts)
    read = np.add.reduceat(np.where(track.kind == 0, track.amount, 0.0), firsts)
    lasts = np.minimum(firsts + per, count) - 1
    dram = track.name.startswith("DRAM")
    unit = "values" if track.name == "regen unit" else "bytes"
    name = f"{work.layer} {work.phase}"
    spans = []
    for i, first in enumerate(firsts):
        last = lasts[i]
        args = {"layer": work.layer, "phase": work.phase,
                **_tile_args(int(track.tile[first]), chunks, tiles_per_group, work)}
        if track.name != "PE array":
            args[unit] = float(amount[i])
        if dram:
            args["read_bytes"], args["write_bytes"] = float(read[i]), float(amount[i] - read[i])
        label = name
        if last > first:
            args["tiles"] = int(last - first + 1)
            args.update({f"last_{k}": v for k, v in _tile_args(
                int(track.tile[last]), chunks, tiles_per_group, work).items()})
            args["span_cycles"] = float(track.end[last] - track.start[first])
            label = f"{name} ({last - first + 1} merged)"
        elif dram:
            label = f"{'write' if track.kind[first] else 'read'} {name}"
        start = float(track.start[first])
        spans.append(Span(track.name, label, start, start + float(busy[i]), args,
                          _category(track.name)))
    return spans


def _tile_args(tile: int, chunks: int, tiles_per_group: int, work: PhaseCost) -> dict:
    group, within = divmod(tile, tiles_per_group)
    args = {"fold": within // chunks, "chunk": within % chunks}
    if work.shape.groups > 1:
        args["group"] = group
    return args


def _category(track: str) -> str:
    return {"PE": "compute", "regen": "regen", "DMA": "dma", "DRAM": "dram"}[track.split()[0]]


def _update_spans(layer: str, counters: np.ndarray, params: SimParams, offset: float,
                  channels: int) -> list[Span]:
    """The update pass of one layer: each unit busy from the pass's start; the channel
    reads everything first, then writes back."""
    bpc = params.array.dram_bytes_per_cycle
    base = {"layer": layer, "phase": "update"}
    name = f"{layer} update"
    spans = [Span("PE array", name, offset, offset + counters[INDEX["compute_cycles"]],
                  dict(base), "compute")]
    regen = counters[INDEX["regen_values"]]
    if regen > 0 and params.array.regen_lanes > 0:
        spans.append(Span("regen unit", name, offset,
                          offset + regen / params.array.regen_lanes,
                          {**base, "values": float(regen)}, "regen"))
    at = offset
    for direction, track in (("read", "DMA load"), ("write", "DMA store")):
        begin = at
        for stream in STREAMS:
            moved = counters[INDEX[f"dram_{direction}_bytes.{stream}"]]
            if stream == "weights":
                moved += counters[INDEX[f"dram_{direction}_bytes.metadata"]]
            if moved > 0:
                spans.append(Span(f"{track}: {stream}", name, at, at + moved / bpc,
                                  {**base, "bytes": float(moved)}, "dma"))
                at += moved / bpc
        if at > begin:
            total = (at - begin) * bpc
            spans += [Span(f"DRAM channel {c}", f"{direction} {name}", begin, at,
                           {**base, "bytes": total / channels,
                            f"{direction}_bytes": total / channels}, "dram")
                      for c in range(channels)]
    return spans


# -- steps -----------------------------------------------------------------------------------
def timeline_spans(trace_path: str, hw: Hardware | str, steps: str | None = None,
                   max_events: int = DEFAULT_MAX_EVENTS) -> tuple[list[Span], dict[str, Any]]:
    """The timeline of the chosen steps (default: the first recorded one) as Spans, and
    what it covers (steps, their cycles, the clock). Cycles per layer-phase are the
    replay's (``accelsim.sim.simulate`` over the same steps)."""
    description = hw if isinstance(hw, Hardware) else load_hardware(hw)
    params = sim_params(description)
    channels = description.dram.channels or 1  # an ideal DRAM has no channels: one track
    with open_trace(trace_path) as reader:
        header = reader.header
        require_layer_work_only(header, "the chrome timeline")
        recorded = np.asarray(reader.steps, dtype=np.int64)
        chosen = select_steps(recorded, steps) if steps else recorded[:1]
        spec = steps or f"{int(chosen[0])}:{int(chosen[0]) + 1}"
        phase_work: dict[int, list[PhaseCost]] = {}
        result = replay(reader, params, steps=spec, keep_rows=True, work=phase_work)
        rows = result.require_rows()
        row_of = {int(s): i for i, s in enumerate(result.steps)}
        layer_index = {name: i for i, name in enumerate(result.layers)}
        phase_index = {phase: i for i, phase in enumerate(result.phases)}
        order = [(result.layers[li], result.phases[pi])
                 for li, pi in execution_order(result.layers, result.phases)]
        spans, step_cycles, offset = [], [], 0.0
        wanted = set(int(s) for s in chosen)
        for step in sorted(wanted):
            counters = rows[row_of[step]]
            work = {(w.layer, w.phase): w for w in phase_work[step]}
            begin = offset
            for layer, phase in order:
                row = counters[layer_index[layer], phase_index[phase]]
                cycles = float(row[INDEX["cycles"]])
                if cycles <= 0:
                    continue
                summary = _summary(layer, phase, row)
                if phase == "update":
                    spans += _update_spans(layer, row, params, offset, channels)
                else:
                    tiles, summary["pipeline_cycles"] = gemm_spans(
                        work[(layer, phase)], params, offset, cycles, channels, max_events)
                    spans += tiles
                spans.append(Span("layer-phases", f"{layer} {phase}", offset, offset + cycles,
                                  summary, "layer-phase"))
                offset += cycles
            spans.append(Span("step", f"step {step}", begin, offset,
                              {"step": step, "cycles": offset - begin}, "step"))
            step_cycles.append(offset - begin)
    info = {"steps": [int(s) for s in chosen], "step_cycles": step_cycles,
            "clock_hz": params.clock_hz, "dram_channels": channels,
            "trace": str(trace_path), "net": header.net, "method": header.method,
            "hardware": description.name}
    return spans, info


def _summary(layer: str, phase: str, row: np.ndarray) -> dict[str, Any]:
    read, write = counter(row, "dram_read_bytes"), counter(row, "dram_write_bytes")
    return {"layer": layer, "phase": phase, "cycles": float(row[INDEX["cycles"]]),
            "compute_cycles": float(row[INDEX["compute_cycles"]]),
            "macs": float(counter(row, "macs")), "dram_read_bytes": float(read),
            "dram_write_bytes": float(write), "regen_values": float(row[INDEX["regen_values"]])}


# -- Chrome trace-event JSON -----------------------------------------------------------------
def chrome_trace(trace_path: str, hw: Hardware | str, steps: str | None = None,
                 max_events: int = DEFAULT_MAX_EVENTS) -> dict[str, Any]:
    """The Chrome trace-event JSON object of the chosen steps (see the module docstring)."""
    spans, info = timeline_spans(trace_path, hw, steps, max_events)
    ns_per_cycle = 1e9 / info["clock_hz"]
    tracks = list(FIXED_TRACKS) + [f"DRAM channel {c}" for c in range(info["dram_channels"])]
    used = {span.track for span in spans} | {"PE array"} | {t for t in tracks
                                                           if t.startswith("DRAM")}
    tids = {name: i + 1 for i, name in enumerate(tracks)}
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": PID, "tid": 0,
         "args": {"name": f"accelerator ({info['hardware']})"}}]
    for name in tracks:
        if name in used:
            events.append({"name": "thread_name", "ph": "M", "pid": PID, "tid": tids[name],
                           "args": {"name": name}})
            events.append({"name": "thread_sort_index", "ph": "M", "pid": PID,
                           "tid": tids[name], "args": {"sort_index": tids[name]}})
    for span in spans:
        start_ns = round(span.start * ns_per_cycle)
        end_ns = round(span.end * ns_per_cycle)
        events.append({"name": span.name, "cat": span.category, "ph": "X",
                       "ts": start_ns / 1000, "dur": (end_ns - start_ns) / 1000, "pid": PID,
                       "tid": tids[span.track],
                       "args": {key: _compact(value) for key, value in
                                {**span.args, "cycles": span.end - span.start}.items()}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": f"accelsim {__version__}", **info,
                          "time_unit": "us of the accelerator clock, whole ns"}}


def _compact(value: Any) -> Any:
    """Numbers as JSON shows them: 3 decimals, whole numbers without ".0"."""
    if not isinstance(value, float):
        return value
    value = round(value, 3)
    return int(value) if value.is_integer() else value


def write_chrome_trace(trace_path: str, hw: Hardware | str, steps: str | None, out: str,
                       max_events: int = DEFAULT_MAX_EVENTS) -> dict[str, Any]:
    """Write the timeline of the chosen steps to ``out`` (atomically); returns what was
    written: path, events, bytes, steps and their cycles."""
    trace = chrome_trace(trace_path, hw, steps, max_events)
    text = json.dumps(trace, separators=(",", ":")) + "\n"
    write_text_atomic(out, text)
    other = trace["otherData"]
    return {"path": str(out), "events": len(trace["traceEvents"]), "bytes": len(text),
            "steps": other["steps"], "step_cycles": other["step_cycles"]}
