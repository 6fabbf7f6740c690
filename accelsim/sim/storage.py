"""What it costs to fetch a weight tensor's stored values in the description's format.

A tensor whose every weight is stored, or whose pruning is structural (dead filters are
simply absent), is laid out densely: values only. A tensor with an unstructured stored
set is laid out in ``storage.format`` (bits per format: hw.Storage); the weights it does
not store come from the regeneration unit (DropBack: their initial values) or are zeros
the decoder inserts (pruning methods) — unless the format would take
more bytes than plain values (a nearly full tensor), when it is kept dense. Without a
regeneration unit, or in the dense format, the weights that are not stored are fetched
as dense values: no saving.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.hw.description import Storage


@dataclass(frozen=True)
class WeightFetch:
    """Bytes and regenerated values to bring one weight tensor to the array once."""

    value_bytes: float
    metadata_bytes: float
    regen_values: int
    stored: int

    @property
    def total_bytes(self) -> float:
        return self.value_bytes + self.metadata_bytes


def weight_fetch(numel: int, stored: int, value_bytes: int, storage: Storage,
                 fill: str, padding: int = 0) -> WeightFetch:
    """Cost of one full read of a tensor with ``stored`` of ``numel`` weights stored.

    ``fill``: where the weights that are not stored come from — "regen" (their initial
    values, from the regeneration unit: DropBack), "zero" (pruned to zero: the format's
    decoder inserts them for free) or "none" (nothing can make them: fetch every weight).
    ``padding``: the relative-index CSR filler entries for this stored set.
    """
    if stored >= numel or storage.format == "dense" or fill == "none":
        return WeightFetch(float(numel * value_bytes), 0.0, 0, numel)
    value_bits = 8 * value_bytes
    total_bits = storage.stored_bits(numel, stored, value_bits, padding)
    values = (stored + padding) * value_bytes if storage.format == "csr" else stored * value_bytes
    # Metadata is laid out per tensor and rounded up to whole bytes.
    regenerated = numel - stored if fill == "regen" else 0
    sparse = WeightFetch(float(values), float(-(-total_bits // 8) - values), regenerated,
                         stored)
    if sparse.total_bytes >= numel * value_bytes:
        # Too dense for the format to pay off: the tensor is kept as plain values.
        return WeightFetch(float(numel * value_bytes), 0.0, 0, numel)
    return sparse
