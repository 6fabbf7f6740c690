"""Property tests of the replay on random small nets, stored sets and descriptions.

Every example builds a random net of 1-3 conv2d/linear layers (consistent activation
shapes, optional bias, BatchNorm and grouped convs), random batch size, random stored
masks (unstructured, random keep fraction per tensor) and a description derived from a
preset with ``Hardware.replace`` (storage format, SRAM size, array shape, dataflow,
regen unit on/off), and replays in-memory step records through
:func:`accelsim.sim.replay.replay_records` (no files), except one round trip through a
written trace.

Expected values are computed here from the net's own geometry and the storage formulas
of docs/hardware.md, not from the simulator's lowering.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accelsim.errors import ConfigError
from accelsim.hw import Hardware, load_hardware
from accelsim.sim import simulate
from accelsim.sim.hardware import sim_params
from accelsim.sim.replay import replay_records
from accelsim.sim.results import COUNTER_NAMES, ENERGY_PARTS, INDEX, TRAFFIC_CLASSES
from accelsim.sim.results import counter as counter_of
from accelsim.trace import LayerInfo, StepRecord, TensorInfo, TraceHeader, TraceWriter

PHASES = ("fwd", "bwd_data", "bwd_weight", "update")
PRESETS = ("edge-lpddr4", "dropback-edge", "scalesim-32x32-ws", "datacenter-hbm2",
           "eyeriss-like")
FORMATS = ("dense", "bitmap", "csr", "coo")
CAPACITIES = ("1 KiB", "4 KiB", "16 KiB", "64 KiB", "512 KiB")  # ordered, smallest first
HUGE = "64 MiB"  # larger than every operand of every net drawn here: no capacity effects

# ACCELSIM_PROPERTY_EXAMPLES=1000 for a longer hunt; the default keeps the file near 15 s.
PROPERTY = settings(max_examples=int(os.environ.get("ACCELSIM_PROPERTY_EXAMPLES", 100)),
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- random nets --------------------------------------------------------------------------

@dataclass(frozen=True)
class Conv:
    c: int
    h: int
    w: int
    k: int
    kh: int
    kw: int
    stride: int
    pad: int
    groups: int
    bias: bool
    bn: bool

    @property
    def ho(self) -> int:
        return (self.h + 2 * self.pad - self.kh) // self.stride + 1

    @property
    def wo(self) -> int:
        return (self.w + 2 * self.pad - self.kw) // self.stride + 1

    @property
    def pixels(self) -> int:
        return self.ho * self.wo

    @property
    def reduction(self) -> int:  # Kw: inputs per output of one group
        return self.c // self.groups * self.kh * self.kw

    @property
    def in_elements(self) -> int:
        return self.c * self.h * self.w

    @property
    def out_elements(self) -> int:
        return self.k * self.pixels

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.k, self.c // self.groups, self.kh, self.kw)


@dataclass(frozen=True)
class Linear:
    fin: int
    fout: int
    bias: bool
    groups: int = 1
    pixels: int = 1

    @property
    def k(self) -> int:
        return self.fout

    @property
    def reduction(self) -> int:
        return self.fin

    @property
    def in_elements(self) -> int:
        return self.fin

    @property
    def out_elements(self) -> int:
        return self.fout

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.fout, self.fin)


@st.composite
def nets(draw, max_layers: int = 3, min_convs: int = 0, grouped: bool = True):
    """1..max_layers layers: convs first (a chain of consistent shapes), then linears."""
    count = draw(st.integers(max(1, min_convs), max_layers))
    convs = draw(st.integers(min_convs, count))
    layers: list[Conv | Linear] = []
    features = draw(st.integers(1, 96))
    if convs:
        c, h, w = draw(st.integers(1, 4)), draw(st.integers(3, 10)), draw(st.integers(3, 10))
        for _ in range(convs):
            k = draw(st.integers(1, 12))
            pad = draw(st.integers(0, 1))
            kh = draw(st.integers(1, min(3, h + 2 * pad)))
            kw = draw(st.integers(1, min(3, w + 2 * pad)))
            groups = 1
            if grouped and c % 2 == 0 and k % 2 == 0 and draw(st.integers(0, 3)) == 0:
                groups = 2
            conv = Conv(c, h, w, k, kh, kw, draw(st.integers(1, 2)), pad, groups,
                        draw(st.booleans()), draw(st.booleans()))
            layers.append(conv)
            c, h, w = conv.k, conv.ho, conv.wo
        features = c * h * w
    for _ in range(count - convs):
        fout = draw(st.integers(1, 48))
        layers.append(Linear(features, fout, draw(st.booleans())))
        features = fout
    return tuple(layers)


def make_header(net, batch: int, record_every: int = 1, state: int = 0,
                method: str = "dropback") -> TraceHeader:
    """The trace header of ``net`` as the recorder would write it (flatten before the
    first linear after a conv, BatchNorm owning norm_weight/norm_bias, ReLUs)."""
    layers: list[LayerInfo] = []
    tensors: list[TensorInfo] = []

    def tensor(layer: str, role: str, shape) -> int:
        tid = len(tensors)
        suffix = {"weight": "weight", "bias": "bias", "norm_weight": "weight",
                  "norm_bias": "bias"}[role]
        tensors.append(TensorInfo(tid, f"{layer}.{suffix}", layer, role, tuple(shape)))
        return tid

    previous = None
    for i, spec in enumerate(net):
        name = f"l{i}"
        if isinstance(spec, Conv):
            ids = [tensor(name, "weight", spec.weight_shape)]
            if spec.bias:
                ids.append(tensor(name, "bias", (spec.k,)))
            out = (spec.k, spec.ho, spec.wo)
            layers.append(LayerInfo(name, "conv2d", weight_shape=spec.weight_shape,
                                    bias_shape=(spec.k,) if spec.bias else None,
                                    stride=(spec.stride,) * 2, padding=(spec.pad,) * 2,
                                    dilation=(1, 1), groups=spec.groups,
                                    in_shape=(spec.c, spec.h, spec.w), out_shape=out,
                                    tensor_ids=ids))
            if spec.bn:
                bn = f"{name}bn"
                layers.append(LayerInfo(bn, "batchnorm2d", weight_shape=(spec.k,),
                                        bias_shape=(spec.k,), in_shape=out, out_shape=out,
                                        tensor_ids=[tensor(bn, "norm_weight", (spec.k,)),
                                                    tensor(bn, "norm_bias", (spec.k,))]))
            layers.append(LayerInfo(f"{name}relu", "relu", in_shape=out, out_shape=out))
        else:
            if isinstance(previous, Conv):
                shape = (previous.k, previous.ho, previous.wo)
                layers.append(LayerInfo("flatten", "flatten", in_shape=shape,
                                        out_shape=(math.prod(shape),)))
            ids = [tensor(name, "weight", spec.weight_shape)]
            if spec.bias:
                ids.append(tensor(name, "bias", (spec.fout,)))
            layers.append(LayerInfo(name, "linear", weight_shape=spec.weight_shape,
                                    bias_shape=(spec.fout,) if spec.bias else None,
                                    in_shape=(spec.fin,), out_shape=(spec.fout,),
                                    tensor_ids=ids))
        previous = spec
    header = TraceHeader(net="random", layers=layers, tensors=tensors, method=method,
                         batch_size=batch, optimizer_state_per_weight=state,
                         record_every=record_every,
                         regen={"name": "test", "version": 1, "seed": 0})
    header.validate()
    return header


@dataclass(frozen=True)
class Scenario:
    net: tuple
    batch: int
    record_every: int
    state: int
    steps: int
    keeps: tuple[float, ...]  # per tensor id; 1.0 = every weight stored
    seed: int

    def header(self, batch: int | None = None, method: str = "dropback") -> TraceHeader:
        return make_header(self.net, batch or self.batch, self.record_every, self.state,
                           method)

    def records(self, dense: bool = False) -> list[StepRecord]:
        """One record per step with a full stored mask for every tensor. A sparse tensor
        keeps at least one weight: a tensor with nothing stored is mis-charged (see
        test_tensor_with_nothing_stored_is_all_regenerated)."""
        rng = np.random.default_rng(self.seed)
        header = self.header()
        out = []
        for step in range(1, self.steps + 1):
            masks = {}
            for info in header.tensors:
                keep = 1.0 if dense else self.keeps[info.tensor_id]
                mask = np.ones(info.numel, dtype=bool)
                if keep < 1.0:
                    mask = rng.random(info.numel) < keep
                    mask[rng.integers(info.numel)] = True
                masks[info.tensor_id] = mask
            out.append(StepRecord(step=step * self.record_every, loss=1.0, lr=0.1,
                                  stored_masks=masks))
        return out


@st.composite
def scenarios(draw, max_layers: int = 3, min_convs: int = 0, grouped: bool = True):
    net = draw(nets(max_layers, min_convs, grouped))
    scenario = Scenario(net, draw(st.integers(1, 6)), draw(st.integers(1, 3)),
                        draw(st.integers(0, 2)), draw(st.integers(1, 3)), (), 0)
    tensors = len(scenario.header().tensors)
    keeps = draw(st.lists(st.one_of(st.just(1.0), st.floats(0.0, 0.5)),
                          min_size=tensors, max_size=tensors))
    return replace(scenario, keeps=tuple(keeps), seed=draw(st.integers(0, 2**32 - 1)))


# --- random descriptions ------------------------------------------------------------------

@functools.cache
def preset(name: str) -> Hardware:
    return load_hardware(name)


@functools.lru_cache(maxsize=2048)
def _described(name: str, changes: tuple) -> Hardware:
    return preset(name).replace(dict(changes))


def described(name: str, changes: dict, **overrides) -> Hardware:
    """``name`` with ``changes`` and then ``overrides`` (dotted keys with '__' for '.')."""
    merged = dict(changes)
    merged.update({key.replace("__", "."): value for key, value in overrides.items()})
    return _described(name, tuple(sorted(merged.items())))


@st.composite
def designs(draw, capacities=CAPACITIES + (HUGE,)):
    """(preset name, replace() changes) of a random description."""
    fmt = draw(st.sampled_from(FORMATS))
    changes = {
        "storage.format": fmt,
        "sram.capacity": draw(st.sampled_from(capacities)),
        "sram.banks": 1,  # small capacities must hold one access per bank
        "array.rows": draw(st.integers(1, 24)),
        "array.cols": draw(st.integers(1, 24)),
        "array.dataflow": draw(st.sampled_from(("ws", "os", "is"))),
        "array.tiling": draw(st.booleans()),  # False: whole folds, as SCALE-Sim
        # The laws here count every operand through DRAM; residency's own laws are in
        # tests/sim/test_residency.py.
        "sram.residency": "none",
    }
    if fmt == "csr":
        changes["storage.index_bits"] = draw(st.integers(2, 8))
    elif fmt == "coo" and draw(st.booleans()):
        changes["storage.index_bits"] = 16  # else "auto": ceil(log2(numel)) per tensor
    if draw(st.integers(0, 2)):
        changes["regen.lanes"] = draw(st.integers(1, 32))
    else:
        changes["regen"] = False
    return draw(st.sampled_from(PRESETS)), changes


def run(header: TraceHeader, records, hw: Hardware, phases=PHASES):
    # Exact cycles (no reuse across steps within a tolerance): these are the model's laws;
    # tests/sim/test_replay_scale.py bounds what the default tolerance changes.
    return replay_records(header, records, sim_params(hw), phases, cycle_tolerance=0.0)


def dram_total(totals: dict) -> float:
    return totals["dram_read_bytes"] + totals["dram_write_bytes"]


def row_dram(row: np.ndarray) -> float:
    return float(sum(row[INDEX[f"dram_read_bytes.{o}"]] + row[INDEX[f"dram_write_bytes.{o}"]]
                     for o in TRAFFIC_CLASSES))


def padding(mask: np.ndarray, index_bits: int) -> int:
    """Relative-index CSR filler entries, written out: a gap of z zeros before a stored
    weight needs z // 2**b fillers (each filler stands for 2**b positions)."""
    total, previous = 0, -1
    for index in np.flatnonzero(mask):
        total += (int(index) - previous - 1) // 2**index_bits
        previous = int(index)
    return total


def gemm_layers(header: TraceHeader, net) -> list[tuple[int, int, object]]:
    """(row of SimResult.layers, weight tensor id, spec) of every conv/linear layer."""
    names = [layer.name for layer in header.layers if layer.tensor_ids]
    out = []
    for i, spec in enumerate(net):
        layer = next(x for x in header.layers if x.name == f"l{i}")
        out.append((names.index(layer.name), layer.tensor_ids[0], spec))
    return out


def gemm_dims(spec, batch: int, phase: str) -> tuple[int, int, int, int]:
    """(m, k, n, groups) of one phase, from the layer's own geometry."""
    p, kw, f = batch * spec.pixels, spec.reduction, spec.k // spec.groups
    return {"fwd": (p, kw, f), "bwd_data": (p, f, kw), "bwd_weight": (kw, p, f)}[phase] + (
        spec.groups,)


def folds(m: int, k: int, n: int, rows: int, cols: int, flow: str) -> tuple[int, int]:
    """(folds, streamed length) of SCALE-Sim's mapping."""
    stationary_rows, stationary_cols, stream = {"ws": (k, n, m), "os": (m, n, k),
                                                "is": (k, m, n)}[flow]
    return -(-stationary_rows // rows) * -(-stationary_cols // cols), stream


# --- the properties -----------------------------------------------------------------------

@PROPERTY
@given(scenario=scenarios(), design=designs())
def test_fetched_plus_regenerated_equals_weight_reads(scenario, design):
    """fwd and bwd_data read every weight once per fetch of B: stored values (and CSR
    fillers) from DRAM with the format's metadata, the rest from the regen unit. B may be
    fetched f >= 1 whole times (capacity refetch); with a huge SRAM f == 1."""
    check_weight_reads(scenario, design)


def test_refetched_weights_are_regenerated_on_every_fetch():
    """The same check where B does not fit (os, whole folds, 1 KiB): fetched f > 1 times,
    every fetch regenerates the unstored weights again."""
    scenario = Scenario(net=(Linear(96, 48, True),), batch=6, record_every=1, state=0,
                        steps=2, keeps=(0.3, 1.0), seed=1)
    design = ("dropback-edge", {
        "storage.format": "csr", "storage.index_bits": 4, "sram.capacity": "1 KiB",
        "sram.banks": 1, "array.rows": 4, "array.cols": 4, "array.dataflow": "os",
        "array.tiling": False, "regen.lanes": 16})
    assert check_weight_reads(scenario, design) > 1


def sparse_fetch(hw: Hardware, mask: np.ndarray) -> tuple[bool, int, int]:
    """(kept in the sparse format?, fillers, metadata bytes): the format is used only on a
    design with a regen unit, for a tensor not fully stored, when its bytes (metadata
    rounded up to whole bytes per tensor) are fewer than plain values."""
    storage, v = hw.storage, hw.dtypes.weights_bytes
    numel, stored = mask.size, int(mask.sum())
    if hw.regen is None or storage.format == "dense" or stored == numel:
        return False, 0, 0
    fillers = padding(mask, storage.index_bits) if storage.format == "csr" else 0
    if storage.format == "csr":
        assert fillers == storage.padding_entries(np.flatnonzero(mask))
    values = stored + fillers
    index_bits = 0
    if storage.format in ("csr", "coo"):
        # a fixed width, or coo "auto": ceil(log2(numel)) bits, at least one
        index_bits = storage.index_bits or max(1, (numel - 1).bit_length())
    metadata_bits = numel if storage.format == "bitmap" else values * index_bits
    total = -(-(values * 8 * v + metadata_bits) // 8)
    if total >= numel * v:
        return False, 0, 0
    return True, fillers, total - values * v


def check_weight_reads(scenario: Scenario, design) -> int:
    """Asserts the fetched + regenerated identity per step, layer and phase; returns the
    largest number of whole fetches of B seen."""
    name, changes = design
    most = 0
    hw = described(name, changes)
    header, records = scenario.header(), scenario.records()
    result = run(header, records, hw, ("fwd", "bwd_data"))
    v = hw.dtypes.weights_bytes
    for si, record in enumerate(records):
        for li, tid, _ in gemm_layers(header, scenario.net):
            mask = record.stored_masks[tid]
            numel, stored = mask.size, int(mask.sum())
            sparse, fillers, metadata = sparse_fetch(hw, mask)
            values = stored + fillers if sparse else numel
            for pi, phase in enumerate(("fwd", "bwd_data")):
                row = result.rows[si, li, pi]
                if phase == "bwd_data" and li == gemm_layers(header, scenario.net)[0][0]:
                    assert not row.any()  # the first layer has no bwd_data
                    continue
                fetched = row[INDEX["dram_read_bytes.weights"]] / v
                regen = row[INDEX["regen_values"]]
                f = round(fetched / values)
                assert f >= 1
                most = max(most, f)
                assert fetched == pytest.approx(f * values, rel=1e-9)
                # The property: fetched values - fillers + regenerated = every weight.
                assert fetched - f * fillers + regen == pytest.approx(f * numel, rel=1e-9)
                assert regen == f * (numel - stored if sparse else 0)
                assert row[INDEX["dram_read_bytes.metadata"]] == pytest.approx(
                    f * metadata, rel=1e-9, abs=1e-9)
                if changes["sram.capacity"] == HUGE:
                    assert f == 1 and row[INDEX["refetch_bytes"]] == 0
    return most


@PROPERTY
@given(scenario=scenarios(), design=designs())
def test_sparse_weight_traffic_never_exceeds_dense(scenario, design):
    """DropBack stored sets never cost more weight (or total) DRAM traffic than storing
    every weight, in every format (a tensor too dense for its format is kept as plain
    values)."""
    name, changes = design
    hw = described(name, changes)
    header, sparse_records = scenario.header(), scenario.records()
    sparse = run(header, sparse_records, hw).totals
    dense = run(header, scenario.records(dense=True), hw).totals
    assert sparse["weight_dram_read_bytes"] <= dense["weight_dram_read_bytes"] * (1 + 1e-12)
    assert dram_total(sparse) <= dram_total(dense) * (1 + 1e-12)
    assert dense["regen_values"] == 0
    if hw.regen is None or hw.storage.format == "dense":
        assert sparse["weight_dram_read_bytes"] == dense["weight_dram_read_bytes"]
        assert sparse["regen_values"] == 0


@PROPERTY
@given(scenario=scenarios(), design=designs())
def test_update_pass_moves_the_stored_set(scenario, design):
    """The update streams every parameter tensor once: it reads the weights as stored
    (format bits of the stored set for an unstructured-sparse tensor on a design with a
    regen unit, dense values otherwise) and writes them back the same way, reads every
    gradient, reads and writes the optimizer state of the stored weights, and
    regenerates every weight of a sparse tensor (for scoring)."""
    name, changes = design
    hw = described(name, changes)
    header, records = scenario.header(), scenario.records()
    result = run(header, records, hw, ("update",))
    v, grad = hw.dtypes.weights_bytes, hw.dtypes.gradients_bytes
    state = hw.dtypes.optimizer_state_bytes * scenario.state
    names = [layer.name for layer in header.layers if layer.tensor_ids]
    for si, record in enumerate(records):
        for li, name_ in enumerate(names):
            layer = next(x for x in header.layers if x.name == name_)
            expected = dict.fromkeys(("weights", "metadata", "gradients", "state", "regen"),
                                     0.0)
            for tid in layer.tensor_ids:
                mask = record.stored_masks[tid]
                numel, stored = mask.size, int(mask.sum())
                sparse, fillers, metadata = sparse_fetch(hw, mask)
                expected["gradients"] += numel * grad
                if not sparse:
                    expected["weights"] += numel * v
                    expected["state"] += numel * state
                    continue
                expected["weights"] += (stored + fillers) * v
                expected["metadata"] += metadata
                expected["state"] += stored * state
                expected["regen"] += numel
            row = result.rows[si, li, 0]
            got = {"weights": row[INDEX["dram_read_bytes.weights"]],
                   "metadata": row[INDEX["dram_read_bytes.metadata"]],
                   "gradients": row[INDEX["dram_read_bytes.gradients"]],
                   "state": row[INDEX["dram_read_bytes.optimizer_state"]],
                   "regen": row[INDEX["regen_values"]]}
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-9), name_
            assert row[INDEX["dram_write_bytes.weights"]] == pytest.approx(expected["weights"])
            assert row[INDEX["dram_write_bytes.metadata"]] == pytest.approx(
                expected["metadata"], abs=1e-9)
            assert row[INDEX["dram_write_bytes.optimizer_state"]] == pytest.approx(
                expected["state"], abs=1e-9)
            assert row[INDEX["dram_write_bytes.gradients"]] == 0


@PROPERTY
@given(scenario=scenarios(), design=designs(), sizes=st.lists(
    st.sampled_from(CAPACITIES + (HUGE,)), min_size=2, max_size=2, unique=True))
def test_larger_sram_never_increases_dram_bytes(scenario, design, sizes):
    name, changes = design
    order = CAPACITIES + (HUGE,)
    small, large = sorted(sizes, key=order.index)
    header, records = scenario.header(), scenario.records()
    a = run(header, records, described(name, changes, sram__capacity=small)).totals
    b = run(header, records, described(name, changes, sram__capacity=large)).totals
    assert dram_total(b) <= dram_total(a) * (1 + 1e-12)
    # (refetch alone may grow: a larger buffer can trade partial-sum spills for refetch)
    assert a["macs"] == b["macs"]
    if not changes["array.tiling"]:  # whole folds: the SRAM changes traffic, not compute
        assert a["compute_cycles"] == b["compute_cycles"]


@PROPERTY
@given(scenario=scenarios(), design=designs(), unchunked=st.sampled_from(["tiling",
                                                                          "huge"]))
def test_wider_array_never_streams_longer(scenario, design, unchunked):
    """Without stream chunking (tiling off, or buffers so large that one chunk is best),
    each GEMM's compute cycles are SCALE-Sim's groups x folds x (fill + T) - 1 with
    fill = 2R + C - 2 (ws, is) or R + C - 2 (os). Doubling the columns never lengthens the
    streaming part folds x T; the only growth allowed is the extra skew, C cycles per fold
    of the wide array. The update pass (elementwise over R x C lanes) never slows down."""
    name, changes = design
    extra = {"array__tiling": False} if unchunked == "tiling" else {"sram__capacity": HUGE}
    rows, cols, flow = changes["array.rows"], changes["array.cols"], changes["array.dataflow"]
    narrow_hw = described(name, changes, **extra)
    try:
        wide_hw = described(name, changes, array__cols=2 * cols, **extra)
    except ConfigError:  # the doubled array's tile no longer fits the smallest SRAM
        assume(False)
    header, records = scenario.header(), scenario.records()
    narrow = run(header, records, narrow_hw)
    wide = run(header, records, wide_hw)
    cc = INDEX["compute_cycles"]
    allowance = 0
    first = gemm_layers(header, scenario.net)[0][0]
    for li, _, spec in gemm_layers(header, scenario.net):
        for pi, phase in enumerate(PHASES[:3]):
            if phase == "bwd_data" and li == first:
                continue
            m, k, n, g = gemm_dims(spec, scenario.batch, phase)
            fold_n, stream = folds(m, k, n, rows, cols, flow)
            fold_w, _ = folds(m, k, n, rows, 2 * cols, flow)
            fill = (rows if flow == "os" else 2 * rows) - 2
            expect_n = g * fold_n * (fill + cols + stream) - 1
            expect_w = g * fold_w * (fill + 2 * cols + stream) - 1
            assert fold_w <= fold_n
            assert fold_w * stream <= fold_n * stream
            for s in range(len(records)):
                assert narrow.rows[s, li, pi, cc] == expect_n, (phase, spec)
                assert wide.rows[s, li, pi, cc] == expect_w, (phase, spec)
                assert wide.rows[s, li, pi, cc] <= (narrow.rows[s, li, pi, cc]
                                                   + g * fold_w * cols)
            allowance += g * fold_w * cols * scenario.record_every * len(records)
    update = PHASES.index("update")
    assert (wide.rows[..., update, cc] <= narrow.rows[..., update, cc]).all()
    assert (wide.totals["compute_cycles"]
            <= narrow.totals["compute_cycles"] + allowance)


@PROPERTY
@given(scenario=scenarios(), design=designs())
def test_energy_is_the_sum_of_nonnegative_components(scenario, design):
    """Totals and every row: energy_pj = sum of components, each >= 0 and equal to its
    counter times the description's unit energy. Every counter >= 0, and cycles respect
    the roofline: at least the compute, the DRAM transfer and the regeneration time."""
    name, changes = design
    hw = described(name, changes)
    params = sim_params(hw)
    header = scenario.header()
    result = run(header, scenario.records(), hw)
    totals = result.totals
    assert totals["energy_pj"] == pytest.approx(
        sum(totals[f"energy_pj.{p}"] for p in ENERGY_PARTS), rel=1e-12)
    assert totals["energy_pj"] > 0
    assert (result.rows >= 0).all()
    rows = result.rows.reshape(-1, len(COUNTER_NAMES))
    for row in rows[rows.any(axis=1)]:
        energy = {p: row[INDEX[f"energy_pj.{p}"]] for p in ENERGY_PARTS}
        assert all(value >= 0 for value in energy.values())
        expected = {
            "mac": sum(row[INDEX[f"macs.{c}"]] * pj for c, pj in params.prices.mac_pj.items()),
            "sram": (row[INDEX["sram_read_bytes"]] * params.prices.sram_read_pj_per_byte
                     + row[INDEX["sram_write_bytes"]] * params.prices.sram_write_pj_per_byte),
            # bursts at their pJ/bit, one ACT-PRE per row of bytes, standby for the cycles
            "dram": (sum(row[INDEX[f"dram_read_bytes.{o}"]] for o in TRAFFIC_CLASSES)
                     * params.prices.dram_read_pj_per_byte
                     + sum(row[INDEX[f"dram_write_bytes.{o}"]] for o in TRAFFIC_CLASSES)
                     * params.prices.dram_write_pj_per_byte
                     + row_dram(row) * params.prices.dram_act_pj_per_byte
                     + row[INDEX["cycles"]] / params.clock_hz * params.prices.dram_standby_w
                     * 1e12),
            "regen": row[INDEX["regen_values"]] * params.prices.regen_pj_per_value,
            "leakage": row[INDEX["cycles"]] / params.clock_hz * params.prices.leakage_w * 1e12,
            "vector": sum(row[INDEX[f"vector_ops.{k}"]] * pj
                          for k, pj in params.prices.vector_pj.items()),
        }
        for part in ENERGY_PARTS:
            assert energy[part] == pytest.approx(expected[part], rel=1e-9, abs=1e-9), part
        cycles = row[INDEX["cycles"]]
        assert cycles >= row[INDEX["compute_cycles"]]
        assert cycles >= row_dram(row) / params.array.dram_bytes_per_cycle - 1 - 1e-6
        if params.has_regen:
            assert cycles >= row[INDEX["regen_values"]] / params.array.regen_lanes - 1 - 1e-6
        else:
            assert row[INDEX["regen_values"]] == 0
    for row in result.by_layer():
        assert all(row[f"energy_pj.{p}"] >= 0 for p in ENERGY_PARTS)


@PROPERTY
@given(scenario=scenarios(), design=designs(capacities=(HUGE,)))
def test_doubling_the_batch_doubles_activations_not_forward_weights(scenario, design):
    """With nothing spilling, the forward pass reads each layer's whole input batch and
    writes its output batch once (real tensors, never im2col): both scale with the batch;
    weight traffic and regenerated values do not; MACs double."""
    name, changes = design
    hw = described(name, changes)
    records = scenario.records()
    a, b = (run(scenario.header(batch), records, hw, ("fwd",)).totals
            for batch in (scenario.batch, 2 * scenario.batch))
    act = hw.dtypes.activations_bytes
    steps = scenario.record_every * scenario.steps
    inputs = sum(spec.in_elements for spec in scenario.net) * act * scenario.batch * steps
    outputs = sum(spec.out_elements for spec in scenario.net) * act * scenario.batch * steps
    assert a["dram_read_bytes.inputs"] == pytest.approx(inputs, rel=1e-12)
    assert a["dram_write_bytes.outputs"] == pytest.approx(outputs, rel=1e-12)
    assert a["dram_read_bytes.outputs"] == 0 and a["psum_spill_bytes"] == 0
    for key in ("dram_read_bytes.inputs", "dram_write_bytes.outputs", "macs"):
        assert b[key] == pytest.approx(2 * a[key], rel=1e-12), key
    for key in ("dram_read_bytes.weights", "dram_read_bytes.metadata",
                "weight_dram_read_bytes", "regen_values"):
        assert b[key] == pytest.approx(a[key], rel=1e-12), key
    macs = sum(math.prod(gemm_dims(spec, scenario.batch, "fwd")) for spec in scenario.net)
    assert a["macs"] == macs * steps


@PROPERTY
@given(scenario=scenarios(), design=designs())
def test_totals_are_the_sums_of_layers_phases_and_steps(scenario, design):
    name, changes = design
    result = run(scenario.header(), scenario.records(), described(name, changes))
    totals = result.totals
    weight = scenario.record_every
    assert totals["training_steps"] == weight * scenario.steps
    layers = result.by_layer()
    phases = result.by_phase()
    assert set(phases) == set(PHASES)
    for counter in COUNTER_NAMES:
        expected = totals[counter]
        assert sum(row[counter] for row in layers) == pytest.approx(expected, rel=1e-9,
                                                                      abs=1e-6), counter
        assert sum(phases[p][counter] for p in phases) == pytest.approx(
            expected, rel=1e-9, abs=1e-6), counter
    per_step = result.per_step()
    for key in ("cycles", "dram_read_bytes", "dram_write_bytes", "weight_dram_read_bytes",
                "energy_pj"):
        assert weight * sum(per_step[key]) == pytest.approx(totals[key], rel=1e-9,
                                                            abs=1e-6), key
    assert totals["dram_read_bytes"] == pytest.approx(
        sum(totals[f"dram_read_bytes.{o}"] for o in TRAFFIC_CLASSES), rel=1e-12)
    assert totals["weight_dram_read_bytes"] == pytest.approx(
        totals["dram_read_bytes.weights"] + totals["dram_read_bytes.metadata"], rel=1e-12)


@PROPERTY
@given(scenario=scenarios(), design=designs())
def test_reused_signatures_cost_what_a_fresh_replay_costs(scenario, design):
    """A step's cost depends on its own stored sets only: replaying A, B, A gives A's
    rows twice, each equal to a replay of A alone (with tolerance 0 the cache is exact)."""
    name, changes = design
    hw = described(name, changes)
    header = scenario.header()
    a, b = scenario.records()[0], replace(scenario, seed=scenario.seed + 1).records()[0]
    b = replace(b, step=a.step + 1)
    again = replace(a, step=a.step + 2)
    both = run(header, [a, b, again], hw)
    alone_a = run(header, [a], hw)
    alone_b = run(header, [b], hw)
    np.testing.assert_array_equal(both.rows[0], both.rows[2])
    np.testing.assert_array_equal(both.rows[0], alone_a.rows[0])
    np.testing.assert_array_equal(both.rows[1], alone_b.rows[0])


@PROPERTY
@given(scenario=scenarios(min_convs=1, grouped=False), design=designs(capacities=(HUGE,)),
       data=st.data())
def test_structurally_pruned_filters_shrink_the_gemms(scenario, design, data):
    """Filter pruning (structure masks on conv weights and biases): the live filters are
    read densely, never through regen; the next layer loses the matching input channels
    (a following linear layer loses their flattened features)."""
    name, changes = design
    hw = described(name, changes)
    net = scenario.net
    header = scenario.header(method="filter_pruning")
    masks = {info.tensor_id: np.ones(info.numel, dtype=bool) for info in header.tensors}
    structure, alive = {}, []
    for i, spec in enumerate(net):
        live = spec.k
        if isinstance(spec, Conv):
            keep = np.zeros(spec.k, dtype=bool)
            keep[data.draw(st.lists(st.integers(0, spec.k - 1), min_size=1, unique=True))] = True
            live = int(keep.sum())
            layer = next(x for x in header.layers if x.name == f"l{i}")
            for tid in layer.tensor_ids:
                masks[tid] = np.repeat(keep, header.tensor(tid).numel // spec.k)
                structure[tid] = keep.copy()
        alive.append(live)
    record = StepRecord(step=1, stored_masks=masks, structure_masks=structure)
    result = run(header, [record], hw)
    v, act = hw.dtypes.weights_bytes, hw.dtypes.activations_bytes
    fwd = PHASES.index("fwd")
    for i, (li, _, spec) in enumerate(gemm_layers(header, net)):
        in_alive = spec.c if isinstance(spec, Conv) else spec.fin
        if i and isinstance(net[i - 1], Conv):
            in_alive = in_alive // net[i - 1].k * alive[i - 1]
        if isinstance(spec, Conv):
            weights = alive[i] * in_alive * spec.kh * spec.kw
            inputs, outputs = in_alive * spec.h * spec.w, alive[i] * spec.pixels
        else:
            weights, inputs, outputs = alive[i] * in_alive, in_alive, alive[i]
        row = result.rows[0, li, fwd]
        assert counter_of(row, "macs") == scenario.batch * spec.pixels * weights, spec
        assert row[INDEX["dram_read_bytes.weights"]] == weights * v, spec
        assert row[INDEX["dram_read_bytes.metadata"]] == 0
        assert row[INDEX["dram_read_bytes.inputs"]] == pytest.approx(
            scenario.batch * inputs * act, rel=1e-12), spec
        assert row[INDEX["dram_write_bytes.outputs"]] == pytest.approx(
            scenario.batch * outputs * act, rel=1e-12), spec
    assert result.totals["regen_values"] == 0


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), design=designs())
def test_written_trace_replays_like_its_records(scenario, design):
    """simulate() on a trace written from the records equals replay_records on them."""
    name, changes = design
    hw = described(name, changes)
    header, records = scenario.header(), scenario.records()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "t.trace")
        with TraceWriter(path, header, keyframe_every=2, chunk_steps=2) as writer:
            for record in records:
                writer.append(record)
        from_file = simulate(path, hw, cycle_tolerance=0.0)
    direct = run(header, records, hw)
    np.testing.assert_array_equal(from_file.steps, direct.steps)
    np.testing.assert_allclose(from_file.rows, direct.rows, rtol=1e-12)


def test_tensor_with_nothing_stored_is_all_regenerated():
    header = make_header((Linear(64, 32, False),), batch=4)
    hw = load_hardware("dropback-edge").replace({"sram.residency": "none"})
    fwd = PHASES.index("fwd")
    for stored in (1, 0):
        mask = np.zeros(64 * 32, dtype=bool)
        mask[:stored] = True
        row = run(header, [StepRecord(step=1, stored_masks={0: mask})], hw).rows[0, 0, fwd]
        assert row[INDEX["regen_values"]] == 64 * 32 - stored
        assert row[INDEX["dram_read_bytes.weights"]] == stored * hw.dtypes.weights_bytes


def _grouped_pair(groups: int = 2, channels: int = 2):
    """fwd rows of a conv with ``groups`` groups of ``channels`` in/out channels each, and
    of one such group as a conv of its own (same per-group GEMM)."""
    hw = described("edge-lpddr4", {"array.rows": 4, "array.cols": 4, "sram.capacity": HUGE})
    rows = []
    for g in (groups, 1):
        c = channels * g
        scenario = Scenario((Conv(c, 6, 6, c, 3, 3, 1, 1, g, False, False),), 2, 1, 0, 1,
                            (1.0,), 0)
        rows.append(run(scenario.header(), scenario.records(dense=True), hw, ("fwd",))
                    .rows[0, 0, 0])
    return rows


def test_grouped_conv_costs_its_groups():
    """A conv of g groups is g independent GEMMs: g times the traffic and MACs of one
    group, and g times its compute cycles (one cycle of the -1 per GEMM aside)."""
    grouped, single = _grouped_pair()
    for name in ("macs", "sram_write_bytes", "regen_values", *(
            f"dram_{d}_bytes.{o}" for d in ("read", "write") for o in TRAFFIC_CLASSES)):
        assert counter_of(grouped, name) == 2 * counter_of(single, name), name
    assert grouped[INDEX["compute_cycles"]] == 2 * single[INDEX["compute_cycles"]] + 1


def test_grouped_conv_reads_its_partial_sums_in_every_group():
    grouped, single = _grouped_pair()
    assert grouped[INDEX["sram_read_bytes"]] == 2 * single[INDEX["sram_read_bytes"]]
    assert grouped[INDEX["energy_pj.sram"]] == pytest.approx(2 * single[INDEX["energy_pj.sram"]])


# --- zero-skipping (accelsim.sim.sparsity) -------------------------------------------------

@PROPERTY
@given(scenario=scenarios(), design=designs(), balance=st.sampled_from(("none", "sort")))
def test_zero_skipping_executes_at_most_dense_and_never_beats_the_pe_count(
        scenario, design, balance):
    """A pruned trace (zeros where nothing is stored) on a weight-skipping array: executed
    MACs never exceed the same trace's on the array without skipping, executed + skipped
    equals them, every row's cycles are at least its executed MACs over the PEs, and
    sorting the work never makes a forward pass slower than the natural assignment."""
    name, changes = design
    fmt = changes["storage.format"]
    assume(fmt != "dense")
    header = scenario.header(method="swd")
    records = scenario.records()
    plain = described(name, changes)
    skipping = {"sparsity.skip": "weights", "sparsity.format": fmt}
    natural = described(name, changes, **{k.replace(".", "__"): v for k, v in
                                          {**skipping, "sparsity.balance": "none"}.items()})
    chosen = described(name, changes, **{k.replace(".", "__"): v for k, v in
                                         {**skipping, "sparsity.balance": balance}.items()})
    dense = run(header, records, plain)
    skipped = run(header, records, chosen)
    unsorted = run(header, records, natural)
    macs = counter_of(skipped.rows, "macs")
    assert (macs <= counter_of(dense.rows, "macs") * (1 + 1e-12)).all()
    assert skipped.totals["macs"] + skipped.totals["macs_skipped"] == \
        pytest.approx(dense.totals["macs"], rel=1e-12)
    pes = chosen.array.rows * chosen.array.cols
    compute = skipped.rows[..., INDEX["compute_cycles"]]
    # SCALE-Sim counts folds x (fill + T) - 1: one cycle per GEMM can fall short (a 1x1
    # os array computes one MAC in "0" cycles), as test_grouped_conv_costs_its_groups says.
    assert ((compute + 1) * pes >= macs * (1 - 1e-12)).all()
    assert (skipped.rows[..., INDEX["cycles"]] >= compute - 1e-9).all()
    fwd = skipped.phases.index("fwd")
    assert (skipped.rows[:, :, fwd, INDEX["cycles"]]
            <= unsorted.rows[:, :, fwd, INDEX["cycles"]] * (1 + 1e-12)).all()
