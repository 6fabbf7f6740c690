"""accelsim.regen: statistics of the stream and bit-identity across entry points."""

import numpy as np
import pytest
from scipy import stats

from accelsim import regen
from accelsim.errors import ConfigError

N = 1_000_000


@pytest.fixture(scope="module")
def million():
    return regen.normal_values(seed=7, tensor_id=3, std=1.0, count=N)


def test_mean_and_std_within_one_percent_of_target():
    std = regen.init_std(300)  # LeCun for a 300-input layer
    values = regen.normal_values(seed=1, tensor_id=0, std=std, count=N)
    assert values.dtype == np.float32
    assert abs(values.mean()) < 0.01 * std
    assert abs(values.std() / std - 1.0) < 0.01


def test_kolmogorov_smirnov_against_standard_normal(million):
    result = stats.kstest(million.astype(np.float64), "norm")
    assert result.pvalue > 1e-3, result


def test_uniform_bits_are_balanced():
    bits = np.empty(200_000, dtype=np.uint64)
    regen.raw_bits_kernel(np.uint64(5), np.uint64(9), np.uint64(0), bits)
    ones_per_position = np.unpackbits(bits.view(np.uint8)).reshape(-1, 64).mean(axis=0)
    # Each bit is a fair coin: 200k flips give a std of 0.0011, so 0.01 is ~9 sigma.
    assert np.all(np.abs(ones_per_position - 0.5) < 0.01)


def test_no_correlation_between_neighbouring_indices(million):
    r = np.corrcoef(million[:-1], million[1:])[0, 1]
    # Under independence r ~ N(0, 1/sqrt(N)) = N(0, 0.001); 0.005 is 5 sigma.
    assert abs(r) < 0.005
    r_stride = np.corrcoef(million[:-64], million[64:])[0, 1]
    assert abs(r_stride) < 0.005


def test_no_correlation_between_neighbouring_tensor_ids():
    a = regen.normal_values(seed=7, tensor_id=10, std=1.0, count=N)
    b = regen.normal_values(seed=7, tensor_id=11, std=1.0, count=N)
    c = regen.normal_values(seed=8, tensor_id=10, std=1.0, count=N)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.005
    assert abs(np.corrcoef(a, c)[0, 1]) < 0.005
    assert not np.array_equal(a[:100], b[:100])


def test_same_bits_from_every_entry_point(million):
    rng = np.random.default_rng(0)
    indices = rng.integers(0, N, size=5_000)
    at = regen.normal_at(seed=7, tensor_id=3, std=1.0, indices=indices)
    assert np.array_equal(at.view(np.uint32), million[indices].view(np.uint32))
    # A range starting mid-tensor equals the slice of the whole tensor.
    part = regen.normal_values(seed=7, tensor_id=3, std=1.0, count=1000, start=123_456)
    assert np.array_equal(part.view(np.uint32), million[123_456:124_456].view(np.uint32))
    # The pure-Python kernel (what numba compiled) agrees bit for bit.
    py_out = np.empty(50, dtype=np.float32)
    with np.errstate(over="ignore"):  # uint64 wrap-around is the intended arithmetic
        regen.normal_range_kernel.py_func(
            np.uint64(7), np.uint64(3), np.uint64(1000), 1.0, py_out
        )
    assert np.array_equal(py_out.view(np.uint32), million[1000:1050].view(np.uint32))
    # Through an InitSpec, as training and the simulator's regen unit use it.
    spec = regen.InitSpec.from_dict(regen.InitSpec("normal", std=1.0).to_dict())
    via_spec = regen.initial_values_at(spec, 7, 3, indices)
    assert np.array_equal(via_spec.view(np.uint32), at.view(np.uint32))


def test_scaling_is_exactly_std_times_unit_stream():
    unit = regen.normal_values(seed=2, tensor_id=4, std=1.0, count=1000)
    scaled = regen.normal_values(seed=2, tensor_id=4, std=0.25, count=1000)  # power of two
    assert np.array_equal(scaled, unit * np.float32(0.25))


def test_init_schemes():
    assert regen.init_std(100, "lecun") == pytest.approx(0.1)
    assert regen.init_std(100, "he") == pytest.approx(np.sqrt(2) * 0.1)
    with pytest.raises(ConfigError, match="unknown init scheme"):
        regen.init_std(100, "xavier")
    with pytest.raises(ConfigError, match="fan_in"):
        regen.init_std(0)


def test_constant_specs_and_bad_ids():
    spec = regen.InitSpec("constant", value=1.0)
    assert np.all(regen.initial_values(spec, 0, 0, 10) == 1.0)
    with pytest.raises(ConfigError, match="tensor_id"):
        regen.normal_values(seed=0, tensor_id=-1, std=1.0, count=3)
    with pytest.raises(ConfigError, match="non-negative"):
        regen.normal_at(seed=0, tensor_id=0, std=1.0, indices=np.array([-3]))
