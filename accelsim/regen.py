"""Counter-based generator of initial weight values: the one source of them.

A weight's initial value is a pure function ``f(seed, tensor_id, index)``: no state is
carried from one index to the next, so any weight can be regenerated alone, in any
order, exactly as an accelerator's regeneration unit would (DropBack, Golub et al.:
"each value only depends on the random seed value and its index").

Bits: the counter ``key(seed, tensor_id) + (index + 1) * GOLDEN_GAMMA`` (a Weyl sequence)
is scrambled by xorshift-multiply rounds (the output function of the xorshift* family
in the strong form SplitMix64 uses: three xor-shifts, two 64-bit multiplies). Values:
the upper and lower 32 bits form two uniforms that a Box-Muller transform turns into
one standard normal (cosine branch), scaled by the tensor's standard deviation and
rounded once to float32.

Training (initialisation and resets) and the simulator's regeneration unit both call
the kernels below, so the values are bit-identical wherever they are produced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelsim.errors import ConfigError
from accelsim.jit import njit

GENERATOR_NAME = "xorshift-mul-weyl-boxmuller"
GENERATOR_VERSION = 1

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MUL_1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL_2 = np.uint64(0x94D049BB133111EB)
_TENSOR_SALT = np.uint64(0xD1B54A32D192ED03)
_SHIFT_30 = np.uint64(30)
_SHIFT_27 = np.uint64(27)
_SHIFT_31 = np.uint64(31)
_SHIFT_32 = np.uint64(32)
_LOW_32 = np.uint64(0xFFFFFFFF)
_ONE = np.uint64(1)
_TWO_POW_MINUS_32 = 2.0**-32
_TWO_PI = 2.0 * math.pi

SCHEMES = ("lecun", "he")


@njit(cache=True, inline="always")
def _scramble(x):
    """xorshift-multiply finaliser: every input bit flips each output bit with p~1/2."""
    x = (x ^ (x >> _SHIFT_30)) * _MUL_1
    x = (x ^ (x >> _SHIFT_27)) * _MUL_2
    return x ^ (x >> _SHIFT_31)


@njit(cache=True, inline="always")
def _stream_key(seed, tensor_id):
    """Per-tensor key: distinct, decorrelated counters for every (seed, tensor_id)."""
    return _scramble(_scramble(seed) ^ (tensor_id * _TENSOR_SALT + _ONE))


@njit(cache=True, inline="always")
def _normal_from_bits(bits):
    """Box-Muller on the two 32-bit halves; u1 is never 0, so the log is finite."""
    u1 = (np.float64(bits >> _SHIFT_32) + 0.5) * _TWO_POW_MINUS_32
    u2 = np.float64(bits & _LOW_32) * _TWO_POW_MINUS_32
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


@njit(cache=True)
def normal_range_kernel(seed, tensor_id, start, std, out):
    """out[j] = float32(std * N(seed, tensor_id, start + j)) for every j."""
    key = np.uint64(_stream_key(np.uint64(seed), np.uint64(tensor_id)))
    base = np.uint64(start)
    for j in range(out.shape[0]):
        counter = key + (base + np.uint64(j) + _ONE) * _GOLDEN_GAMMA
        out[j] = np.float32(std * _normal_from_bits(np.uint64(_scramble(counter))))


@njit(cache=True)
def normal_at_kernel(seed, tensor_id, indices, std, out):
    """out[j] = float32(std * N(seed, tensor_id, indices[j])) for arbitrary indices."""
    key = np.uint64(_stream_key(np.uint64(seed), np.uint64(tensor_id)))
    for j in range(indices.shape[0]):
        counter = key + (np.uint64(indices[j]) + _ONE) * _GOLDEN_GAMMA
        out[j] = np.float32(std * _normal_from_bits(np.uint64(_scramble(counter))))


@njit(cache=True)
def raw_bits_kernel(seed, tensor_id, start, out):
    """The 64 scrambled bits behind each value (for statistical tests and hardware checks)."""
    key = np.uint64(_stream_key(np.uint64(seed), np.uint64(tensor_id)))
    base = np.uint64(start)
    for j in range(out.shape[0]):
        out[j] = _scramble(key + (base + np.uint64(j) + _ONE) * _GOLDEN_GAMMA)


def _check_ids(seed: int, tensor_id: int) -> None:
    for key, value in (("seed", seed), ("tensor_id", tensor_id)):
        if not 0 <= int(value) < 2**64:
            raise ConfigError(f"regen: {key}={value} must be an integer in [0, 2**64)")


def normal_values(seed: int, tensor_id: int, std: float, count: int, start: int = 0) -> np.ndarray:
    """Initial values of indices ``start .. start+count-1`` of one tensor, float32."""
    _check_ids(seed, tensor_id)
    if count < 0 or start < 0:
        raise ConfigError(f"regen: start={start} and count={count} must be non-negative")
    out = np.empty(count, dtype=np.float32)
    normal_range_kernel(np.uint64(seed), np.uint64(tensor_id), np.uint64(start), float(std), out)
    return out


def normal_at(seed: int, tensor_id: int, std: float, indices: np.ndarray) -> np.ndarray:
    """Initial values at arbitrary flat indices of one tensor, float32, in the given order."""
    _check_ids(seed, tensor_id)
    idx = np.ascontiguousarray(indices, dtype=np.int64)
    if idx.size and idx.min() < 0:
        raise ConfigError("regen: indices must be non-negative")
    out = np.empty(idx.shape[0], dtype=np.float32)
    normal_at_kernel(np.uint64(seed), np.uint64(tensor_id), idx, float(std), out)
    return out


def init_std(fan_in: int, scheme: str = "lecun") -> float:
    """Standard deviation of a scaled normal: LeCun 1/sqrt(fan_in) or He sqrt(2/fan_in)."""
    if fan_in <= 0:
        raise ConfigError(f"regen: fan_in must be positive, got {fan_in}")
    if scheme == "lecun":
        return 1.0 / math.sqrt(fan_in)
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    raise ConfigError(f"regen: unknown init scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")


@dataclass(frozen=True)
class InitSpec:
    """How one tensor's initial values are made: a scaled normal stream, or a constant.

    Constants (biases 0, normalisation scales 1) need no generator: a regeneration unit
    produces them for free.
    """

    kind: str  # "normal" | "constant"
    std: float = 0.0
    value: float = 0.0

    def to_dict(self) -> dict:
        if self.kind == "normal":
            return {"kind": "normal", "std": self.std}
        return {"kind": "constant", "value": self.value}

    @classmethod
    def from_dict(cls, spec: dict) -> InitSpec:
        kind = spec.get("kind")
        if kind == "normal":
            return cls("normal", std=float(spec["std"]))
        if kind == "constant":
            return cls("constant", value=float(spec["value"]))
        raise ConfigError(f"regen: unknown init kind {kind!r}")


def initial_values(
    spec: InitSpec, seed: int, tensor_id: int, count: int, start: int = 0
) -> np.ndarray:
    """Initial values of a contiguous index range of one tensor under its InitSpec."""
    if spec.kind == "normal":
        return normal_values(seed, tensor_id, spec.std, count, start)
    return np.full(count, spec.value, dtype=np.float32)


def initial_values_at(spec: InitSpec, seed: int, tensor_id: int, indices: np.ndarray) -> np.ndarray:
    """Initial values at arbitrary flat indices of one tensor under its InitSpec."""
    if spec.kind == "normal":
        return normal_at(seed, tensor_id, spec.std, indices)
    return np.full(len(indices), spec.value, dtype=np.float32)
