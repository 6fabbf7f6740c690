"""DropBack: exact budget, bit-exact resets, equivalence with plain SGD at full budget."""

import numpy as np
import pytest
import torch
from torch import nn

from accelsim import regen
from accelsim.errors import ConfigError
from accelsim.training.init import init_from_regen
from accelsim.training.methods import DropBack
from accelsim.training.methods.dropback import _top_k_mask_kernel, top_k_mask
from accelsim.training.params import parameter_table


def tiny_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))


def train(model, optimizer, steps, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 20, generator=gen)
    y = torch.randint(0, 4, (64,), generator=gen)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def regen_value_bits(method, entry):
    spec = method.init.specs[entry.name]
    values = regen.initial_values(spec, method.init.seed, entry.tensor_id, entry.numel)
    return values.view(np.uint32)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: torch.optim.SGD(p, lr=0.1),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4),
        lambda p: torch.optim.Adam(p, lr=1e-2),
    ],
    ids=["sgd", "momentum", "adam"],
)
def test_exactly_k_stored_and_untracked_equal_regen_bits(make_optimizer):
    model = tiny_mlp()
    method = DropBack(model, budget=50, seed=3)
    optimizer = make_optimizer(model.parameters())
    method.attach(optimizer)
    for _ in range(6):
        train(model, optimizer, 1)
        assert method.stored_count() == 50
        for entry in method.entries:
            mask = method.stored_mask(entry.name).flatten().numpy()
            value_bits = entry.param.detach().flatten().numpy().view(np.uint32)
            expected = regen_value_bits(method, entry)
            assert np.array_equal(value_bits[~mask], expected[~mask])
            # Untracked weights carry no optimizer state between steps.
            for state in optimizer.state[entry.param].values():
                if torch.is_tensor(state) and state.shape == entry.param.shape:
                    assert torch.all(state.flatten()[~torch.from_numpy(mask)] == 0)


def test_tracked_are_the_top_k_by_displacement():
    model = tiny_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    after_update = {}
    # Registered before DropBack's hook, so it sees the weights after the update and
    # before the reset: exactly what DropBack ranks.
    optimizer.register_step_post_hook(
        lambda opt, args, kwargs: after_update.update(
            {n: p.detach().clone() for n, p in model.named_parameters()}
        )
    )
    method = DropBack(model, budget=40, seed=0)
    method.attach(optimizer)
    for step in range(3):
        train(model, optimizer, 1, seed=step)
        displacement = torch.cat([
            (after_update[e.name] - method.initial[e.name]).abs().flatten()
            for e in method.entries
        ])
        stored = torch.cat([method.stored_mask(e.name).flatten() for e in method.entries])
        assert int(stored.sum()) == 40
        assert displacement[stored].min() >= displacement[~stored].max()
        assert displacement[stored].min() > 0


def test_full_budget_equals_plain_sgd():
    reference = tiny_mlp()
    init_from_regen(reference, seed=5)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    ref_losses = train(reference, ref_opt, 8)

    model = tiny_mlp()
    total = sum(p.numel() for p in model.parameters())
    method = DropBack(model, budget=total, seed=5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    method.attach(optimizer)
    losses = train(model, optimizer, 8)
    assert losses == ref_losses
    for a, b in zip(reference.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_compression_budget_and_exclusions():
    model = tiny_mlp()  # 20*16+16 + 16*4+4 = 404 weights
    method = DropBack(model, compression=4, include_biases=False)
    assert method.excluded_total == 20
    assert method.budget == 404 // 4 - 20
    hp = method.hparams()
    assert hp["stored_weights"] == 101 and hp["compression"] == pytest.approx(4.0, rel=0.01)
    assert bool(method.stored_mask("0.bias").all())  # excluded: always stored
    with pytest.raises(ConfigError, match="budget 405"):
        DropBack(tiny_mlp(), budget=405)
    with pytest.raises(ConfigError, match="exactly one"):
        DropBack(tiny_mlp())
    with pytest.raises(ConfigError, match="compression must be >= 1"):
        DropBack(tiny_mlp(), compression=0.5)


def test_mask_delta_matches_mask_change_and_freeze_stops_churn():
    model = tiny_mlp()
    method = DropBack(model, budget=30, freeze_after=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    method.attach(optimizer)
    names = [e.name for e in method.entries]
    before = {n: method.stored_mask(n).flatten().clone() for n in names}
    for step in range(6):
        train(model, optimizer, 1, seed=step)
        for n in names:
            now = method.stored_mask(n).flatten()
            entered, left = method.mask_delta(n)
            assert torch.equal(entered, (now & ~before[n]).nonzero().squeeze(1))
            assert torch.equal(left, (before[n] & ~now).nonzero().squeeze(1))
            if step >= 3:
                assert entered.numel() == 0 and left.numel() == 0
            before[n] = now.clone()


def test_mask_deltas_of_all_tensors_from_one_pass_equal_each_tensors_delta():
    model = tiny_mlp()
    method = DropBack(model, budget=60)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    method.attach(optimizer)
    moved = 0
    for step in range(5):
        train(model, optimizer, 1, seed=step)
        deltas = method.mask_deltas()
        assert set(deltas) == {e.name for e in method.scored}
        for name, (entered, left) in deltas.items():
            own_entered, own_left = method.mask_delta(name)
            assert entered.dtype == np.int64 and left.dtype == np.int64
            assert np.array_equal(entered, own_entered.numpy())
            assert np.array_equal(left, own_left.numpy())
            moved += entered.size + left.size
    assert moved > 0


def test_flat_mask_deltas_cuts_changes_at_tensor_boundaries():
    from accelsim.training.methods.base import flat_mask_deltas

    sizes = [3, 1, 4, 2]
    before = torch.tensor([1, 0, 0, 1, 0, 0, 0, 1, 1, 0], dtype=torch.bool)
    now = torch.tensor([0, 0, 1, 0, 0, 0, 0, 1, 0, 1], dtype=torch.bool)
    deltas = flat_mask_deltas(now, before, ["a", "b", "c", "d"], sizes)
    got = {name: (list(entered), list(left)) for name, (entered, left) in deltas.items()}
    # the first and last index of a tensor, a tensor that does not change, one that does
    assert got == {"a": ([2], [0]), "b": ([], [0]), "c": ([], []), "d": ([1], [0])}
    assert flat_mask_deltas(now, now, ["a", "b", "c", "d"], sizes)["c"][0].size == 0


def test_init_decay_scaffold_fades():
    model = tiny_mlp()
    method = DropBack(model, budget=10, init_decay=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    method.attach(optimizer)
    train(model, optimizer, 30)
    untracked = ~method.stored_mask("0.weight")
    assert model[0].weight.detach()[untracked].abs().max() < 1e-6


def test_state_dict_round_trip():
    model = tiny_mlp()
    method = DropBack(model, budget=25)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    method.attach(optimizer)
    train(model, optimizer, 3)
    state = method.state_dict()
    other = DropBack(tiny_mlp(), budget=25)
    other.load_state_dict(state)
    assert other.step_count == 3
    for e in method.entries:
        assert torch.equal(other.stored_mask(e.name), method.stored_mask(e.name))
    with pytest.raises(ConfigError, match="budget 25"):
        DropBack(tiny_mlp(), budget=26).load_state_dict(state)


def test_attach_refuses_an_optimizer_missing_parameters():
    model = tiny_mlp()
    method = DropBack(model, budget=10)
    with pytest.raises(ConfigError, match="does not update"):
        method.attach(torch.optim.SGD(model[0].parameters(), lr=0.1))


def test_handle_removes_hooks():
    model = tiny_mlp()
    method = DropBack(model, budget=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    method.attach(optimizer).remove()
    train(model, optimizer, 2)
    assert method.step_count == 0


@pytest.mark.parametrize("seed", range(5))
def test_top_k_kernel_matches_sort_with_tie_rule(seed):
    rng = np.random.default_rng(seed)
    n = 500
    scores = rng.choice([0.0, 0.5, 1.0, 2.0], size=n).astype(np.float32)  # many ties
    scores[rng.integers(0, n, 50)] = rng.random(50, dtype=np.float32)
    prefer = rng.random(n) < 0.3
    k = int(rng.integers(1, n))
    # Reference: sort by (score desc, prefer first, index asc).
    order = sorted(range(n), key=lambda i: (-scores[i], not prefer[i], i))
    expected = np.zeros(n, dtype=bool)
    expected[order[:k]] = True
    got = top_k_mask(torch.from_numpy(scores), k, torch.from_numpy(prefer)).numpy()
    assert np.array_equal(got, expected)
    py_out = np.zeros(n, dtype=bool)
    _top_k_mask_kernel.py_func(scores.view(np.uint32), k, prefer, py_out)
    assert np.array_equal(py_out, expected)


def test_parameter_table_ids_are_stable():
    a = [(e.tensor_id, e.name, e.role) for e in parameter_table(tiny_mlp())]
    assert a == [(0, "0.weight", "weight"), (1, "0.bias", "bias"),
                 (2, "2.weight", "weight"), (3, "2.bias", "bias")]
