"""The PE array's zero-skipping (``[sparsity]``): which operands' zeros it skips, the
compressed format it reads them in, whether it balances work over the PE columns, and
when a decayed initial weight counts as a zero.

A sparse-training accelerator such as Procrustes (Yang et al., MICRO 2020) skips the
multiply-accumulates of zero operands and sets a fold's time by its most loaded PE
column; the simulator's side of this lives in accelsim.sim.sparsity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from accelsim.hw.schema import Context, param, read_params

SKIP_OPERANDS = ("none", "weights", "activations", "both")
# Compressed formats a skipping array can read its weights in: the storage formats with
# per-weight positions (a dense layout gives the array no index to skip by).
SKIP_FORMATS = ("bitmap", "csr", "coo")
BALANCING = ("none", "sort")
THRESHOLD_UNITS = ("abs", "std")
# Round-to-nearest sends |x| below half the smallest subnormal to 0 (IEEE 754): fp32's
# smallest subnormal is 2^-149, bf16's 2^-133 (fp32's exponent, 7 fraction bits), fp16's
# 2^-24 (5 exponent bits, 10 fraction bits).
ROUNDS_TO_ZERO_BELOW = {"fp32": 2.0 ** -150, "bf16": 2.0 ** -134, "fp16": 2.0 ** -25}


@dataclass(frozen=True)
class Sparsity:
    """Zero-skipping in the PE array and the rule that makes a decayed weight a zero.

    ``zero_threshold``: an untracked weight whose decayed initial value ``|w0| d^t`` is
    below it counts as a zero; ``"X abs"`` is an absolute value, ``"X std"`` X times the
    tensor's initial standard deviation. Absent: the value rounds to zero in
    ``dtypes.weights`` (below half its smallest subnormal).
    """

    skip: str = param("skip", "choice", "operands whose zeros the PE array skips",
                      default="none", choices=SKIP_OPERANDS)
    format: str = param("format", "choice", "the compressed format the array reads "
                        "weights in; must be `storage.format`", default="csr",
                        choices=SKIP_FORMATS)
    balance: str = param("balance", "choice", "sort: the array sorts output channels by "
                         "their nonzero weights before grouping them onto PE columns "
                         "(Procrustes' load balancing), when that saves cycles; its cost "
                         "is charged", default="none", choices=BALANCING)
    zero_threshold: tuple[float, str] | None = param(
        "zero_threshold", "text", 'decayed initial weights below this are zeros: "X abs" '
        'or "X std" (times the tensor\'s initial std)', default="",
        default_doc="rounds to zero in dtypes.weights")

    @property
    def skips_weights(self) -> bool:
        return self.skip in ("weights", "both")

    @property
    def skips_activations(self) -> bool:
        return self.skip in ("activations", "both")


def parse_threshold(text: Any, ctx: Context) -> tuple[float, str] | None:
    """'1e-6 std' -> (1e-6, 'std'); '' -> None; anything else fails naming the key."""
    key = "sparsity.zero_threshold"
    if text == "":
        return None
    if not isinstance(text, str):
        ctx.fail(key, f"{text!r} has no unit; write it as \"{text} abs\" (absolute value) "
                 f"or \"{text} std\" (times the tensor's initial std)")
    parts = text.split()
    if len(parts) != 2 or parts[1] not in THRESHOLD_UNITS:
        ctx.fail(key, f"{text!r}: expected a number and a unit, one of "
                 f"{', '.join(THRESHOLD_UNITS)} (e.g. \"1e-6 std\")")
    try:
        value = float(parts[0])
    except ValueError:
        ctx.fail(key, f"{text!r}: {parts[0]!r} is not a number")
    if not (math.isfinite(value) and value >= 0):
        ctx.fail(key, f"{text!r}: expected a finite value >= 0")
    return value, parts[1]


def build_sparsity(inputs, ctx: Context, storage_format: str) -> Sparsity | None:
    """The ``[sparsity]`` table, checked against the storage format; None when absent."""
    table = inputs.get("sparsity")
    if table is None:
        return None
    if not isinstance(table, dict):
        ctx.fail("sparsity", f"expected a table [sparsity], got {table!r}")
    values = read_params(Sparsity, "sparsity", table, ctx, skip=("zero_threshold",))
    values["zero_threshold"] = parse_threshold(table.get("zero_threshold", ""), ctx)
    out = Sparsity(**values)
    if out.skips_weights and out.format != storage_format:
        ctx.fail("sparsity.format", f'the array reads weights as "{out.format}" but they '
                 f'are stored as "{storage_format}" (storage.format, in '
                 f'{ctx.origin("storage.format")}); set both alike')
    return out


def rounds_to_zero_below(dtype: str) -> float | None:
    """Magnitude below which a value becomes 0 in ``dtype`` (None: an integer dtype,
    whose zero depends on a quantisation scale the description does not give)."""
    return ROUNDS_TO_ZERO_BELOW.get(dtype)
