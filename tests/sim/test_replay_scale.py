"""Replay at scale: the delta tracker, cycle references within tolerance, sampling.

The replay follows stored sets from each step's deltas and reuses cycles across steps
whose weight work differs by at most ``cycle_tolerance``; these tests hold the fast path
to the definitions it replaces: full-mask recounts, per-step exact cycles and full sums.
"""

import numpy as np
import pytest

from accelsim.errors import ConfigError, TraceError
from accelsim.hw import load_hardware
from accelsim.hw.description import Storage
from accelsim.sim import simulate
from accelsim.sim.gemm_cost import GemmShape, gemm_cost
from accelsim.sim.hardware import sim_params
from accelsim.sim.lowering import gemm_layers, lower
from accelsim.sim.replay import replay_records, sample_steps
from accelsim.sim.results import COUNTER_NAMES, INDEX
from accelsim.sim.storage import weight_fetch
from accelsim.sim.tracker import StoredSetTracker
from accelsim.trace import StepRecord, open_trace

SAMPLE = "traces/lenet300-dropback25.trace"


def mlp_header():
    from tests.sim.test_replay import mlp_header as build

    return build()


def random_walk(header, steps, rng, keep=0.2, churn=0.05):
    """Records with deltas (entered/left) from a random walk of each weight's stored set,
    plus the full masks after each step (for the reference computations)."""
    masks = {t.tensor_id: rng.random(t.numel) < keep for t in header.tensors
             if t.role == "weight"}
    records, truth = [StepRecord(step=1, stored_masks={k: v.copy() for k, v in masks.items()})], \
        [{k: v.copy() for k, v in masks.items()}]
    for step in range(2, steps + 1):
        record = StepRecord(step=step, loss=1.0)
        for tid, mask in masks.items():
            on, off = np.flatnonzero(mask), np.flatnonzero(~mask)
            n = max(1, int(churn * on.size))
            left = np.sort(rng.choice(on, size=min(n, on.size), replace=False))
            came = np.sort(rng.choice(off, size=min(n, off.size), replace=False))
            mask[left], mask[came] = False, True
            record.left[tid], record.entered[tid] = left, came
        records.append(record)
        truth.append({k: v.copy() for k, v in masks.items()})
    return records, truth


@pytest.mark.parametrize("index_bits", [1, 2, 4])
def test_tracker_counts_padding_and_folds_match_a_full_recount(index_bits):
    header = mlp_header()
    storage = Storage("csr", index_bits)
    weights = [t for t in header.tensors if t.role == "weight"]
    grids = [(t.tensor_id, t.shape[1], t.shape[0], 8, 4) for t in weights]
    tracker = StoredSetTracker(header, grids, storage, 4, "regen", 4.0, 16, 0.0)
    rng = np.random.default_rng(index_bits)
    records, truth = random_walk(header, 12, rng, keep=0.15, churn=0.3)
    for record, masks in zip(records, truth, strict=True):
        tracker.apply(record)
        for layer, (tid, k, n, rows, cols) in enumerate(grids):
            j = tracker.column[tid]
            mask = masks[tid]
            indices = np.flatnonzero(mask)
            assert tracker.stored[j] == indices.size
            assert tracker.padding[j] == storage.padding_entries(indices)
            # Fold of W[nn, kk] in B = W^T: (kk // rows, nn // cols), rows-major folds.
            nn, kk = indices // k, indices % k
            folds_n = -(-n // cols)
            expected = np.bincount((kk // rows) * folds_n + nn // cols,
                                   minlength=-(-k // rows) * folds_n)
            lo, hi = tracker.fold_offset[layer], tracker.fold_offset[layer + 1]
            np.testing.assert_array_equal(tracker.fold_counts[lo:hi], expected)
            assert tracker.fold_sizes[lo:hi].sum() == mask.size


def test_tracker_rejects_a_delta_that_does_not_fit():
    header = mlp_header()
    tracker = StoredSetTracker(header, [], Storage("csr", 4), 4, "regen", 4.0, 16, 0.0)
    tid = header.tensors[0].tensor_id
    with pytest.raises(ValueError, match="step 3"):  # every weight is stored at first
        tracker.apply(StepRecord(step=3, entered={tid: np.array([5])}, left={}))


def exact_rows(header, records, params):
    return replay_records(header, records, params, cycle_tolerance=0.0)


def test_zero_tolerance_cycles_are_each_steps_own(tmp_path):
    """With tolerance 0 every step's forward cycles equal a direct gemm_cost of that
    step's own mask (fold shares of stored and of regenerated weights)."""
    header = mlp_header()
    params = sim_params(load_hardware("dropback-edge").replace({"sram.residency": "none"}))
    records, truth = random_walk(header, 6, np.random.default_rng(1))
    result = exact_rows(header, records, params)
    cfg = params.array
    fwd = result.phases.index("fwd")
    for s, masks in enumerate(truth):
        for layer in gemm_layers(header):
            gemm = lower(layer, "fwd")
            mask = masks[layer.weight_tensor]
            indices = np.flatnonzero(mask)
            fetch = weight_fetch(mask.size, indices.size, params.weight_bytes, params.storage,
                                 "regen", params.storage.padding_entries(indices))
            k, n = layer.weight_k, layer.out_channels
            folds_n = -(-n // cfg.cols)
            grid = (-(-k // cfg.rows)) * folds_n
            counts = np.bincount(((indices % k) // cfg.rows) * folds_n
                                 + (indices // k) // cfg.cols, minlength=grid)
            sizes = np.bincount(((np.arange(mask.size) % k) // cfg.rows) * folds_n
                                + (np.arange(mask.size) // k) // cfg.cols, minlength=grid)
            act = params.activation_bytes
            shape = GemmShape(gemm.m, gemm.k, gemm.n, 1, gemm.a.elements * act,
                              fetch.total_bytes, gemm.o.elements * act, gemm.m * gemm.n * act,
                              b_footprint_bytes=gemm.b.elements * params.weight_bytes)
            cost = gemm_cost(shape, cfg, regen_values=fetch.regen_values,
                             fold_weight_share=counts / counts.sum(),
                             fold_regen_share=(sizes - counts) / (sizes - counts).sum())
            row = result.rows[s, result.layers.index(layer.name), fwd]
            assert row[INDEX["cycles"]] == pytest.approx(cost.cycles, rel=1e-12)
            assert row[INDEX["dram_read_bytes.weights"]] + \
                row[INDEX["dram_read_bytes.metadata"]] == pytest.approx(cost.b_read_bytes)


@pytest.mark.parametrize("tolerance", [0.005, 0.05])
def test_tolerance_bounds_cycles_and_leaves_counts_exact(tolerance):
    """References trade cycle accuracy (bounded by the tolerance) for work; every other
    counter but the time-based energy (leakage, DRAM standby: they follow the cycles) is the
    same as the exact replay's."""
    header, params = open_trace(SAMPLE).header, sim_params(load_hardware("dropback-edge"))
    with open_trace(SAMPLE) as reader:
        records = list(reader.iter_changes())[:80]
    exact = exact_rows(header, records, params)
    fast = replay_records(header, records, params, cycle_tolerance=tolerance)
    assert fast.options["cycle_references"] < exact.options["cycle_references"]
    for name in COUNTER_NAMES:
        if name in ("cycles", "energy_pj.leakage", "energy_pj.dram"):
            continue
        np.testing.assert_array_equal(fast.rows[..., INDEX[name]], exact.rows[..., INDEX[name]],
                                      err_msg=name)
    cycles, truth = fast.rows[..., INDEX["cycles"]], exact.rows[..., INDEX["cycles"]]
    standby = (cycles - truth) / params.clock_hz * params.prices.dram_standby_w * 1e12
    np.testing.assert_allclose(fast.rows[..., INDEX["energy_pj.dram"]],
                               exact.rows[..., INDEX["energy_pj.dram"]] + standby,
                               rtol=1e-9, atol=1e-6)  # the bytes' part is exact
    error = np.abs(cycles - truth) / np.maximum(truth, 1)
    assert error.max() <= tolerance
    assert error.max() > 0  # references really were reused across differing steps


def test_sampling_estimates_totals_within_its_reported_error():
    full = simulate(SAMPLE, "dropback-edge")
    sampled = simulate(SAMPLE, "dropback-edge", every=10)
    info = sampled.options["sampling"]
    assert info["every"] == 10 and info["covered"] == len(full.steps)
    assert info["sampled"] == len(range(0, len(full.steps), 10))
    assert sampled.totals["training_steps"] == full.totals["training_steps"]
    for metric, key in (("cycles", "cycles"), ("energy_pj", "energy_pj"),
                        ("weight_dram_read_bytes", "weight_dram_read_bytes")):
        error = abs(sampled.totals[key] / full.totals[key] - 1)
        reported = info["relative_standard_error"][metric]
        assert 0 < reported < 0.05
        assert error <= 4 * reported + 1e-9, (metric, error, reported)


def test_sample_steps_weights_cover_every_step():
    steps = np.arange(1, 24)
    chosen, covers = sample_steps(steps, 5)
    np.testing.assert_array_equal(chosen, [1, 6, 11, 16, 21])
    np.testing.assert_array_equal(covers, [5, 5, 5, 5, 3])
    with pytest.raises(ConfigError, match="--every 0"):
        sample_steps(steps, 0)


def test_aggregates_without_rows_equal_those_with_rows():
    kept = simulate(SAMPLE, "dropback-edge", steps="1:40")
    lean = simulate(SAMPLE, "dropback-edge", steps="1:40", keep_rows=False)
    assert lean.rows is None
    assert lean.totals == pytest.approx(kept.totals, rel=1e-12)
    np.testing.assert_equal(lean.per_step(), kept.per_step())  # NaN accuracies match too
    with pytest.raises(ConfigError, match="--steps"):
        lean.to_frame()


def test_a_corrupt_delta_names_the_trace_and_step(tmp_path):
    header = mlp_header()
    tid = header.tensors[0].tensor_id
    bad = [StepRecord(step=1), StepRecord(step=2, left={tid: np.array([3])}),
           StepRecord(step=3, left={tid: np.array([3])})]
    with pytest.raises(TraceError, match="mine.trace: step 3"):
        replay_records(header, bad, sim_params(load_hardware("dropback-edge")),
                       source="mine.trace")
