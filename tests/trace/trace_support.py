"""Helpers shared by the trace tests: small headers."""

from __future__ import annotations

from accelsim.trace import LayerInfo, TensorInfo, TraceHeader


def header_for(sizes: list[int], structure_size: int = 0) -> TraceHeader:
    """One linear layer per tensor; tensor 0 gets a structure mask of ``structure_size``."""
    tensors = [
        TensorInfo(tensor_id=i, name=f"l{i}.weight", layer=f"l{i}", role="weight",
                   shape=(size,), init={"kind": "normal", "std": 0.05},
                   structure_size=structure_size if i == 0 else 0)
        for i, size in enumerate(sizes)
    ]
    layers = [LayerInfo(name=f"l{i}", kind="linear", weight_shape=(size,), in_shape=(size,),
                        out_shape=(1,), tensor_ids=[i]) for i, size in enumerate(sizes)]
    return TraceHeader(net="toy", layers=layers, tensors=tensors, method="dropback",
                       method_params={"k": 10}, optimizer="sgd", batch_size=8,
                       regen={"name": "xorshift", "version": 1, "seed": 7}, dataset="digits")


def chunk_offsets(data: bytes) -> list[tuple[int, object]]:
    """(offset, ChunkHeader) of every chunk of a sound trace, walked from its lengths."""
    from accelsim.trace import layout

    out, offset = [], layout.PREAMBLE.size
    while offset + layout.CHUNK_HEADER.size <= len(data):
        header = layout.ChunkHeader.unpack(data[offset:offset + layout.CHUNK_HEADER.size])
        if header is None:
            break
        out.append((offset, header))
        offset += layout.CHUNK_HEADER.size + header.step_table_len + header.payload_len
    return out


def with_header_fields(data: bytes, offset: int, **fields) -> bytes:
    """``data`` with the chunk header at ``offset`` changed and its CRC recomputed."""
    import dataclasses

    from accelsim.trace import layout

    header = layout.ChunkHeader.unpack(data[offset:offset + layout.CHUNK_HEADER.size])
    packed = dataclasses.replace(header, **fields).pack()
    return data[:offset] + packed + data[offset + layout.CHUNK_HEADER.size:]
