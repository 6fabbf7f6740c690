"""The training loop: determinism, learning on the real digits, method wiring."""

import pytest

from accelsim.errors import ConfigError
from accelsim.training.loop import TrainConfig, build_method, prepare, train


def test_same_seed_same_run_and_other_seed_differs():
    a = train(prepare(TrainConfig(method="dropback", epochs=1, seed=3)))
    b = train(prepare(TrainConfig(method="dropback", epochs=1, seed=3)))
    c = train(prepare(TrainConfig(method="dropback", epochs=1, seed=4)))
    assert a.final_loss == b.final_loss and a.test_accuracy == b.test_accuracy
    assert a.final_loss != c.final_loss


def test_dense_and_dropback_learn_the_digits():
    dense = train(prepare(TrainConfig(method="dense", epochs=8)))
    dropback = train(prepare(TrainConfig(method="dropback", compression=25, epochs=8)))
    assert dense.test_accuracy > 93
    assert dropback.test_accuracy > 88
    assert dropback.tracked == 266_610 // 25 and dropback.compression == pytest.approx(25, 1e-3)


def test_compression_meaning_per_method():
    run = prepare(TrainConfig(net="lenet-5", method="swd", compression=10, epochs=1))
    assert run.method.hparams()["target"] == pytest.approx(0.9)
    run = prepare(TrainConfig(net="lenet-5", method="filter_pruning", epochs=1))
    assert run.method.hparams()["target"] == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="not --budget"):
        prepare(TrainConfig(net="lenet-5", method="filter_pruning", budget=10, epochs=1))
    assert callable(build_method)
