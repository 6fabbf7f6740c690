"""Zero-skipping in the PE array and DropBack's decay to zero (accelsim.sim.sparsity)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.errors import ConfigError
from accelsim.hw import load_hardware
from accelsim.sim.hardware import sim_params
from accelsim.sim.replay import replay_records
from accelsim.sim.results import INDEX
from accelsim.sim.sparsity import (
    BOX_MULLER_BOUND,
    channel_groups_folds,
    skipped_fold_shares,
    untracked_zero,
)
from accelsim.trace import LayerInfo, StepRecord, TensorInfo, TraceHeader

SIZES = [(96, 40), (40, 10)]  # linear layers (in, out)
STD = 0.1
DECAY = 0.5
# 1e-3 std: zero once BOX_MULLER_BOUND * 0.5**t < 1e-3, from step 13 on.
FIRST_ZERO = 13
STEPS = 16
PHASES = ("fwd", "bwd_data", "bwd_weight", "update")


def mlp_header(method="dropback", decay=DECAY, batch=8):
    layers, tensors = [], []
    for i, (fan_in, fan_out) in enumerate(SIZES):
        tid = len(tensors)
        tensors.append(TensorInfo(tid, f"fc{i}.weight", f"fc{i}", "weight", (fan_out, fan_in),
                                  init={"kind": "normal", "std": STD}))
        layers.append(LayerInfo(f"fc{i}", "linear", weight_shape=(fan_out, fan_in),
                                in_shape=(fan_in,), out_shape=(fan_out,), tensor_ids=[tid]))
    params = {"init_decay": decay} if decay is not None else {}
    return TraceHeader(net="mlp", layers=layers, tensors=tensors, method=method,
                       method_params=params, batch_size=batch, optimizer_state_per_weight=1,
                       regen={"name": "test", "version": 1, "seed": 0})


def records(header, keep=0.1, seed=0, skew=False):
    """Random stored masks; ``skew``: output channel j keeps ~keep * 2j / n (unbalanced)."""
    rng = np.random.default_rng(seed)
    out = []
    for step in range(1, STEPS + 1):
        masks = {}
        for t in header.tensors:
            n, k = t.shape
            rate = keep * (2 * np.arange(n) / n)[:, None] if skew else keep
            masks[t.tensor_id] = (rng.random((n, k)) < rate).ravel()
        out.append(StepRecord(step=step, loss=1.0, lr=0.1, stored_masks=masks))
    return out


def skipping(balance="none", threshold="1e-3 std", skip="weights"):
    return load_hardware("procrustes-like").replace(
        {"sparsity.balance": balance, "sparsity.zero_threshold": threshold,
         "sparsity.skip": skip})


def run(header, recs, hw, fidelity="fast"):
    return replay_records(header, recs, sim_params(hw), PHASES, fidelity=fidelity,
                          cycle_tolerance=0.0)


def fwd(result, counter):
    return result.rows[:, :, result.phases.index("fwd"), INDEX[counter]].sum(axis=1)


# --- the array's work distribution ---------------------------------------------------------

def test_a_column_group_runs_the_folds_of_its_most_loaded_channel():
    # 2 rows x 2 cols: channels (4, 0) need ceil(4/2) = 2 folds, (0, 1) one.
    assert channel_groups_folds(np.array([4, 0, 0, 1]), 2, 2).tolist() == [2, 1]
    natural = skipped_fold_shares(np.array([4, 0, 0, 1]), 2, 2, "none")
    assert natural.tolist() == [0.4, 0.4, 0.2]  # group shares of the 5 weights per fold
    # Sorted: (4, 1) share 2 folds, (0, 0) none.
    assert skipped_fold_shares(np.array([4, 0, 0, 1]), 2, 2, "sort").tolist() == [0.5, 0.5]


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.integers(0, 70), min_size=1, max_size=60),
       rows=st.integers(1, 16), cols=st.integers(1, 16))
def test_sorting_never_needs_more_folds_nor_fewer_than_the_work(counts, rows, cols):
    counts = np.array(counts)
    natural = channel_groups_folds(counts, rows, cols).sum()
    ordered = channel_groups_folds(np.sort(counts)[::-1], rows, cols).sum()
    dense = -(-counts.size // cols) * -(-max(counts.max(), 1) // rows)
    assert ordered <= natural <= dense
    assert ordered * rows * cols >= counts.sum()  # every nonzero weight gets a PE slot
    shares = skipped_fold_shares(counts, rows, cols, "sort")
    assert shares.sum() == pytest.approx(1.0)


# --- decay to zero ------------------------------------------------------------------------

def test_decayed_initial_values_become_zeros_at_the_threshold():
    header = mlp_header()
    steps = np.arange(1, 40)
    hw = skipping()
    zero = untracked_zero(header, steps, "fp32", hw.sparsity, "test")
    assert zero[:, 0].tolist() == [s >= FIRST_ZERO for s in steps]
    assert BOX_MULLER_BOUND * 0.5 ** (FIRST_ZERO - 1) >= 1e-3 > BOX_MULLER_BOUND * 0.5 ** 13
    # Without a threshold: rounding to zero in fp32 (|x| < 2^-150) takes ~150 steps.
    first = int(np.ceil(np.log2(BOX_MULLER_BOUND * STD) + 150))
    zero = untracked_zero(header, np.array([first - 1, first + 1]), "fp32", None, "test")
    assert zero[:, 0].tolist() == [False, True]
    assert untracked_zero(mlp_header(decay=None), steps, "fp32", None, "t") is None
    with pytest.raises(ConfigError, match="zero_threshold"):
        untracked_zero(header, steps, "int8", None, "test")


def test_decayed_weights_need_no_regeneration():
    header = mlp_header()
    result = run(header, records(header), skipping())
    regen = result.rows[..., INDEX["regen_values"]].sum(axis=(1, 2))
    assert (regen[:FIRST_ZERO - 1] > 0).all()
    assert (regen[FIRST_ZERO - 1:] == 0).all()
    plain = run(mlp_header(decay=None), records(header), skipping())
    assert (plain.rows[..., INDEX["regen_values"]].sum(axis=(1, 2)) > 0).all()


# --- executed MACs and cycles -------------------------------------------------------------

def test_executed_macs_follow_the_stored_mask_and_add_up_to_dense():
    header = mlp_header()
    recs = records(header)
    sparse = run(header, recs, skipping())
    dense = run(header, recs, load_hardware("procrustes-like-dense"))
    t, d = sparse.totals, dense.totals
    assert t["macs"] + t["macs_skipped"] == pytest.approx(d["macs"])
    assert t["macs"] < d["macs"]
    stored = sum(r.stored_masks[t.tensor_id].sum() for r in recs[FIRST_ZERO - 1:]
                 for t in header.tensors)
    late = fwd(sparse, "macs.weights_activations")[FIRST_ZERO - 1:].sum()
    assert late == pytest.approx(stored * header.batch_size)
    early = fwd(sparse, "macs.weights_activations")[:FIRST_ZERO - 1]
    assert early == pytest.approx(fwd(dense, "macs.weights_activations")[:FIRST_ZERO - 1])
    assert (fwd(sparse, "cycles")[FIRST_ZERO - 1:]
            < fwd(dense, "cycles")[FIRST_ZERO - 1:]).all()
    # Pricing follows: MAC energy of the late steps is the executed MACs'.
    assert t["energy_pj.mac"] < d["energy_pj.mac"]


def test_pe_utilization_is_a_fraction_on_every_layer_with_macs():
    header = mlp_header()
    result = run(header, records(header, skew=True), skipping("sort"))
    rows = [row for row in result.by_layer() if row["macs"] > 0]
    assert rows
    for row in rows:
        assert 0 < row["pe_utilization"] <= 1
        assert row["cycles"] >= row["compute_cycles"] >= row["macs"] / 256


def test_balancing_is_never_slower_and_helps_an_unbalanced_mask():
    header = mlp_header()
    recs = records(header, skew=True)
    # Four DRAM channels keep the first layer compute-bound once its weights stay on chip
    # (on one channel its input batch alone outlasts the sorted compute: nothing to gain).
    fast_dram = {"dram.channels": 4}
    natural = run(header, recs, skipping("none").replace(fast_dram))
    ordered = run(header, recs, skipping("sort").replace(fast_dram))
    a, b = fwd(natural, "cycles"), fwd(ordered, "cycles")
    assert (b <= a).all()
    assert b[-1] < a[-1]
    assert ordered.totals["macs"] == natural.totals["macs"]


def test_fidelities_agree_with_skipping():
    header = mlp_header()
    recs = records(header, skew=True)
    fast = run(header, recs, skipping("sort"))
    event = run(header, recs, skipping("sort"), fidelity="event")
    assert event.totals["macs"] == fast.totals["macs"]
    assert event.totals["dram_read_bytes"] == fast.totals["dram_read_bytes"]
    assert event.totals["cycles"] == pytest.approx(fast.totals["cycles"], rel=0.02)


def test_pruned_zeros_are_skipped_without_decay():
    header = mlp_header(method="swd", decay=None)
    recs = records(header)
    sparse = run(header, recs, skipping())
    executed = fwd(sparse, "macs.weights_activations").sum()
    skipped = fwd(sparse, "macs_skipped").sum()
    assert 0 < executed < 0.15 * (executed + skipped)  # ~10% of the weights stored


# --- bad descriptions ---------------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [
    ('[storage]\nformat = "bitmap"\n', 'reads weights as "csr" but they are stored as'),
    ('[sparsity]\nzero_threshold = 1e-6\n', "has no unit"),
    ('[sparsity]\nzero_threshold = "1e-6 volts"\n', "expected a number and a unit"),
    ('[sparsity]\nformat = "csb"\n', "sparsity.format"),
])
def test_bad_sparsity_is_one_line_naming_file_and_key(extra, message, tmp_path, capsys):
    hw = tmp_path / "bad.toml"
    hw.write_text(f'extends = "procrustes-like"\nname = "bad"\n{extra}')
    code = main(["simulate", "traces/lenet300-dense.trace", "--hw", str(hw),
                 "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert message in err and "bad.toml" in err and "sparsity." in err


def test_tracker_keeps_per_channel_counts_of_the_real_mask():
    from accelsim.sim.replay import Replay

    header = mlp_header()
    hw = skipping()
    engine = Replay(header, sim_params(hw), PHASES, cycle_tolerance=0.0)
    recs = records(header, skew=True)
    engine.follow(recs)
    tracker = engine.tracker
    for layer, info in enumerate(header.tensors):
        want = recs[-1].stored_masks[info.tensor_id].reshape(info.shape).sum(axis=1)
        assert tracker._channel_counts(layer).tolist() == want.tolist()
    by_fold = [ref for ref in tracker.references if ref.fold_counts is not None]
    assert by_fold and all(ref.channel_counts is not None for ref in by_fold)


def test_activation_skipping_uses_the_recorded_relu_density():
    header = mlp_header()
    fc0, fc1 = header.layers
    relu = LayerInfo("relu0", "relu", in_shape=fc0.out_shape, out_shape=fc0.out_shape)
    header.layers = [fc0, relu, fc1]
    recs = records(header)
    for record in recs:
        record.activation_density = np.array([np.nan, 0.25, np.nan], dtype=np.float32)
    both = run(header, recs, skipping(skip="both"))
    weights = run(header, recs, skipping(skip="weights"))
    li = both.layers.index("fc1")
    got = both.rows[:, li, both.phases.index("fwd"), INDEX["macs.weights_activations"]]
    want = weights.rows[:, li, weights.phases.index("fwd"), INDEX["macs.weights_activations"]]
    assert got == pytest.approx(0.25 * want)
    first = both.layers.index("fc0")  # fed by the net's input: no density, nothing skipped
    assert (both.rows[:, first] == weights.rows[:, first]).all()
    assert both.totals["macs"] + both.totals["macs_skipped"] == pytest.approx(
        weights.totals["macs"] + weights.totals["macs_skipped"])
    assert "fc1" in both.options["zero_skipping"]["activations"]
