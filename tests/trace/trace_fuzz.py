"""Trace fuzzing: random damage and crafted mutations (checksums recomputed) of a small
trace, each read through the Python API and the CLI and judged against what was written.

Used by tests/trace/test_trace_fuzz.py (a seeded few hundred cases) and by
bench/trace_fuzz.py (tens of thousands). Outcomes per case:

- ``refused``: verify says corrupt and every reader path raises TraceError (CLI: exit 1,
  one ``accelsim: error:`` line or a verify line);
- ``prefix``: read back as truncated, every step read equals the first steps written;
- ``same``: reads back exactly what was written (the mutation changed nothing visible);
- ``changed``: a crafted change of free data (a loss, an index) that makes a different but
  consistent trace: undetectable by design, counted apart;
- ``silent``: a damaged file read back with different data (a bug);
- ``crash``: any exception but TraceError, or a CLI exit besides 0/1 (a bug);
- ``hang``: a case over the time limit (a bug).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import signal
import struct
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from accelsim.cli import main as cli_main
from accelsim.errors import TraceError
from accelsim.trace import (
    LayerInfo,
    StepRecord,
    TensorInfo,
    TraceHeader,
    TraceWriter,
    layout,
    open_trace,
    verify,
)
from accelsim.trace.records import KEYFRAME_ENTRY, RECORD_HEAD

SIZES = (300, 40, 9)
BUGS = ("silent", "crash", "hang")


def make_trace(path: Path) -> None:
    """Keyframes, deltas, step tables, structure masks and activation densities."""
    rng = np.random.default_rng(3)
    tensors = [TensorInfo(i, f"l{i}.weight", f"l{i}", "weight", (n,),
                          structure_size=4 if i == 0 else 0) for i, n in enumerate(SIZES)]
    layers = [LayerInfo(f"l{i}", "linear", weight_shape=(n,), in_shape=(n,), out_shape=(1,),
                        tensor_ids=[i]) for i, n in enumerate(SIZES)]
    header = TraceHeader(net="fuzz", layers=layers, tensors=tensors, method="dropback",
                         reproducibility={"torch_threads": 1})
    masks = [rng.random(n) < 0.4 for n in SIZES]
    steps = np.cumsum(rng.integers(1, 3, 20))
    with TraceWriter(path, header, keyframe_every=7, chunk_steps=3, fsync=False) as writer:
        for j, step in enumerate(steps):
            record = StepRecord(step=int(step), loss=float(rng.random()), lr=0.05,
                                accuracy=float(rng.random()) if j % 5 == 0 else math.nan,
                                structure_masks={0: rng.random(4) < 0.5},
                                activation_density=rng.random(3).astype(np.float32))
            for tid, mask in enumerate(masks):
                new = mask ^ (rng.random(mask.size) < 0.05)
                if j % 2 == 0:
                    record.stored_masks[tid] = new
                else:
                    record.entered[tid] = np.flatnonzero(new & ~mask)
                    record.left[tid] = np.flatnonzero(mask & ~new)
                record.changed[tid] = int((new != mask).sum())
                masks[tid] = new
            writer.append(record)


# -- what a reader returns, as one digest per step ------------------------------------

def _digest_header(header) -> str:
    return hashlib.sha256(json.dumps(header.to_dict(), sort_keys=True,
                                     default=str).encode()).hexdigest()


def _digest_record(record) -> str:
    h = hashlib.sha256()
    h.update(struct.pack("<qddd", record.step, record.loss, record.lr, record.accuracy))
    for name in ("changed", "structure_masks", "stored_masks"):
        for tid, value in sorted(getattr(record, name).items()):
            h.update(struct.pack("<I", tid) + np.asarray(value).tobytes())
    if record.activation_density is not None:
        h.update(np.asarray(record.activation_density).tobytes())
    return h.hexdigest()


def read_all(path: Path) -> tuple[str, list[str], bool]:
    """(header digest, step digests, truncated) through every reader path; TraceError
    when any path refuses the file."""
    with open_trace(path) as reader:
        digests = [_digest_record(r) for r in reader.iter_steps(masks=True)]
        list(reader.iter_changes())
        reader.summary()
        for step in reader.steps[::3]:
            for tid in range(len(reader.header.tensors)):
                reader.stored_mask(int(step), reader.header.tensors[tid].tensor_id)
        return _digest_header(reader.header), digests, reader.truncated


# -- mutations --------------------------------------------------------------------------

@dataclasses.dataclass
class Unit:
    offset: int
    header: layout.ChunkHeader

    @property
    def end(self) -> int:
        return self.offset + 64 + self.header.step_table_len + self.header.payload_len


def units(data: bytes) -> list[Unit]:
    out, offset = [], layout.PREAMBLE.size
    while offset + 64 <= len(data):
        header = layout.ChunkHeader.unpack(data[offset:offset + 64])
        if header is None:
            break
        out.append(Unit(offset, header))
        offset = out[-1].end
    return out


def random_mutation(data: bytes, rng) -> tuple[str, bytes]:
    """Damage without recomputing any checksum."""
    size, kind = len(data), rng.integers(0, 9)
    buf = bytearray(data)
    if kind == 0:
        for _ in range(int(rng.integers(1, 4))):
            offset = int(rng.integers(0, size))
            buf[offset] ^= 1 << int(rng.integers(0, 8))
        return "bit flips", bytes(buf)
    if kind == 1:
        offset = int(rng.integers(0, size))
        buf[offset] = (buf[offset] + int(rng.integers(1, 256))) % 256
        return "byte", bytes(buf)
    if kind == 2:
        start, n = int(rng.integers(0, size)), int(rng.integers(1, 64))
        buf[start:start + n] = rng.integers(0, 256, len(buf[start:start + n]),
                                            dtype=np.uint8).tobytes()
        return "run", bytes(buf)
    if kind == 3:
        return "truncate", data[:int(rng.integers(0, size))]
    if kind == 4:
        at = int(rng.integers(0, size + 1))
        extra = rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8).tobytes()
        return "insert", data[:at] + extra + data[at:]
    if kind == 5:
        at = int(rng.integers(0, size))
        return "delete", data[:at] + data[at + int(rng.integers(1, 64)):]
    parts = units(data)
    steps = [u for u in parts if u.header.kind == layout.TYPE_STEPS]
    a, b = sorted(rng.choice(len(steps), 2, replace=False))
    ua, ub = steps[a], steps[b]
    if kind == 6:  # swap two step chunks
        return "swap", (data[:ua.offset] + data[ub.offset:ub.end] + data[ua.end:ub.offset]
                        + data[ua.offset:ua.end] + data[ub.end:])
    if kind == 7:  # duplicate one
        return "duplicate", data[:ub.end] + data[ua.offset:ua.end] + data[ub.end:]
    return "drop chunk", data[:ua.offset] + data[ua.end:]


_INTERESTING = (0, 1, 2, 3, 7, 8, 63, 64, 255, 256, 2**16 - 1, 2**31 - 1, 2**31, 2**32 - 1,
                2**32, 2**40, 2**62, 2**63 - 1)


def _value(rng, current: int, lo: int, hi: int) -> int:
    choice = rng.integers(0, 3)
    if choice == 0:
        value = int(rng.choice(_INTERESTING))
    elif choice == 1:
        value = current + int(rng.choice((-2, -1, 1, 2)))
    else:
        value = int(rng.integers(0, 2**63)) >> int(rng.integers(0, 63))
    value = value if rng.integers(0, 4) else -value
    return min(max(value, lo), hi)


_HEADER_FIELDS = {  # field -> (lo, hi) of its struct type
    "kind": (0, 255), "flags": (0, 255), "n_records": (0, 2**32 - 1),
    "step_table_crc": (0, 2**32 - 1), "first_record": (0, 2**64 - 1),
    "first_step": (-2**63, 2**63 - 1), "last_step": (-2**63, 2**63 - 1),
    "payload_len": (0, 2**64 - 1), "raw_len": (0, 2**64 - 1),
}


def _record_fields(raw: bytes) -> list[tuple]:
    """(offset, struct format) of every structural field of the records in ``raw``: those
    that must agree with something else (counts, lengths, kinds, steps, encodings)."""
    fields, pos = [], 0
    while pos < len(raw):
        kind, flags, _, n_changed, *_ = RECORD_HEAD.unpack_from(raw, pos)
        fields += [(pos, "<B"), (pos + 1, "<B"), (pos + 2, "<H"), (pos + 4, "<I"),
                   (pos + 8, "<q")]
        pos += RECORD_HEAD.size
        fields += [(pos + 4 * i, "<I") for i in range(n_changed)]
        pos += 12 * n_changed
        fields.append((pos, "<I"))
        (n_structure,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        for _ in range(n_structure):
            length = struct.unpack_from("<I", raw, pos + 4)[0]
            fields += [(pos, "<I"), (pos + 4, "<I")]
            pos += 8 + (length + 7) // 8
        if flags & 1:
            (n,) = struct.unpack_from("<I", raw, pos)
            fields.append((pos, "<I"))
            pos += 4 + 4 * n
        fields.append((pos, "<I"))
        (n_sets,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        for _ in range(n_sets):
            if kind == 1:
                tid, enc, *_ = KEYFRAME_ENTRY.unpack_from(raw, pos)
                fields += [(pos + 4, "<B"), (pos + 5, "<Q"), (pos + 13, "<Q"),
                           (pos + 21, "<Q")]
                pos += KEYFRAME_ENTRY.size
                numel = SIZES[tid]
                if enc == 0:
                    pos += (numel + 7) // 8
                else:
                    pos = _index_list(raw, pos, fields)
            else:
                pos += 4
                pos = _index_list(raw, pos, fields)
                pos = _index_list(raw, pos, fields)
    return fields


def _index_list(raw: bytes, pos: int, fields: list) -> int:
    (count,) = struct.unpack_from("<Q", raw, pos)
    fields.append((pos, "<Q"))
    if count == 0:
        return pos + 8
    width = raw[pos + 16]
    fields.append((pos + 16, "<B"))
    return pos + 17 + (count - 1) * width


def _rechunk(data: bytes, unit: Unit, raw: bytes) -> bytes:
    """``unit`` with a new inflated payload: lengths and checksums recomputed."""
    payload = zlib.compress(raw)
    table = data[unit.offset + 64:unit.offset + 64 + unit.header.step_table_len]
    header = dataclasses.replace(unit.header, payload_len=len(payload), raw_len=len(raw),
                                 payload_crc=layout.crc32(payload))
    return data[:unit.offset] + header.pack() + table + payload + data[unit.end:]


def crafted_mutation(data: bytes, rng) -> tuple[str, bool, bytes]:
    """(what, structural, mutated): a change with every checksum recomputed. A structural
    change touches a field that must agree with another; others change free data."""
    parts = units(data)
    kind = rng.integers(0, 6)
    unit = parts[int(rng.integers(0, len(parts)))]
    if kind <= 1:  # a chunk header field
        name = str(rng.choice(list(_HEADER_FIELDS)))
        lo, hi = _HEADER_FIELDS[name]
        value = _value(rng, getattr(unit.header, name), lo, hi)
        header = dataclasses.replace(unit.header, **{name: value})
        return f"chunk.{name}", True, (data[:unit.offset] + header.pack()
                                       + data[unit.offset + 64:])
    steps = [u for u in parts if u.header.kind == layout.TYPE_STEPS]
    unit = steps[int(rng.integers(0, len(steps)))]
    payload_at = unit.offset + 64 + unit.header.step_table_len
    raw = zlib.decompress(data[payload_at:unit.end])
    if kind == 2 and unit.header.step_table_len:  # the step table, its CRC recomputed
        table = bytearray(data[unit.offset + 64:payload_at])
        i = int(rng.integers(0, len(table) // 8))
        old = struct.unpack_from("<q", table, 8 * i)[0]
        struct.pack_into("<q", table, 8 * i, _value(rng, old, -2**63, 2**63 - 1))
        header = dataclasses.replace(unit.header, step_table_crc=layout.crc32(bytes(table)))
        return "step table", True, (data[:unit.offset] + header.pack() + bytes(table)
                                    + data[payload_at:])
    if kind in (2, 3):  # a structural field inside the records
        fields = _record_fields(raw)
        offset, fmt = fields[int(rng.integers(0, len(fields)))]
        size = struct.calcsize(fmt)
        bits = 8 * size
        lo, hi = (-2**(bits - 1), 2**(bits - 1) - 1) if fmt[-1] == "q" else (0, 2**bits - 1)
        old = struct.unpack_from(fmt, raw, offset)[0]
        new = bytearray(raw)
        struct.pack_into(fmt, new, offset, _value(rng, old, lo, hi))
        return f"record field {fmt}", True, _rechunk(data, unit, bytes(new))
    if kind == 4:  # free bytes of the records: flips, inserts, deletes
        new = bytearray(raw)
        at = int(rng.integers(0, len(new)))
        action = rng.integers(0, 3)
        if action == 0:
            new[at] ^= 1 << int(rng.integers(0, 8))
        elif action == 1:
            new[at:at] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
        else:
            del new[at:at + int(rng.integers(1, 9))]
        return "payload bytes", action != 0, _rechunk(data, unit, bytes(new))
    # the JSON header: a redundant key
    head = parts[0]
    text = json.loads(zlib.decompress(data[head.offset + 64:head.end]))
    which = int(rng.integers(0, len(text["tensors"])))
    tensor = text["tensors"][which]
    key = str(rng.choice(["numel", "structure_size", "tensor_id", "shape"]))
    # a structure size is redundant only for a tensor whose records carry structure masks
    structural = key != "structure_size" or which == 0
    if key == "shape":
        tensor["shape"] = [_value(rng, tensor["numel"], 0, 2**62)]
    else:
        tensor[key] = _value(rng, tensor[key], 0, 2**62)
    raw_header = json.dumps(text, sort_keys=True).encode()
    payload = zlib.compress(raw_header)
    header = dataclasses.replace(head.header, payload_len=len(payload), raw_len=len(raw_header),
                                 payload_crc=layout.crc32(payload))
    return f"header.{key}", structural, (data[:head.offset] + header.pack() + payload
                                         + data[head.end:])


# -- judging ----------------------------------------------------------------------------

class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def judge(path: Path, truth: tuple[str, list[str]], structural: bool, cli: bool,
          limit_s: float = 10.0) -> str:
    """The outcome of reading ``path`` (see the module docstring)."""
    header_digest, step_digests = truth
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    start = time.monotonic()
    try:
        outcome = _outcome(path, header_digest, step_digests, structural)
        if cli and outcome not in BUGS:
            outcome = _cli_outcome(path, outcome)
    except _Timeout:
        outcome = "hang"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if time.monotonic() - start > limit_s:
        outcome = "hang"
    return outcome


def _outcome(path: Path, header_digest: str, step_digests: list[str],
             structural: bool) -> str:
    try:
        report = verify(path)
    except TraceError:
        report = None
    except _Timeout:
        raise
    except BaseException:  # noqa: BLE001 - anything else is the bug being looked for
        return "crash"
    try:
        got_header, got, truncated = read_all(path)
    except TraceError:
        return "refused"
    except _Timeout:
        raise
    except BaseException:  # noqa: BLE001
        return "crash"
    if report is None or report.status == "corrupt":
        return "crash"  # verify refused what the reader took: they disagree
    if got_header == header_digest and got == step_digests and not truncated:
        return "same"
    if got_header == header_digest and truncated and got == step_digests[:len(got)]:
        return "prefix"
    return "silent" if structural else "changed"


def _cli_outcome(path: Path, outcome: str) -> str:
    for command in (["trace", "verify", str(path)], ["trace", "info", str(path)]):
        err = io.StringIO()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                code = cli_main(command)
        except _Timeout:
            raise
        except BaseException:  # noqa: BLE001
            return "crash"
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        if code not in (0, 1) or len(lines) > 1 or (
                lines and not lines[0].startswith("accelsim: error: ")):
            return "crash"
        if outcome == "refused" and command[1] == "info" and code == 0:
            return "crash"
    return outcome


def run(cases_random: int, cases_crafted: int, seed: int, workdir: Path,
        cli_every: int = 1, limit_s: float = 10.0) -> dict:
    """Counter of outcomes for each family, plus the cases that are bugs."""
    base = workdir / "base.trace"
    if not base.exists():
        make_trace(base)
    data = base.read_bytes()
    header_digest, digests, _ = read_all(base)
    truth = (header_digest, digests)
    rng = np.random.default_rng(seed)
    path = workdir / "case.trace"
    results = {"random": Counter(), "crafted": Counter(), "bugs": []}
    for family, count in (("random", cases_random), ("crafted", cases_crafted)):
        for case in range(count):
            if family == "random":
                what, mutated = random_mutation(data, rng)
                structural = True
            else:
                what, structural, mutated = crafted_mutation(data, rng)
            if mutated == data:
                results[family]["unchanged"] += 1
                continue
            path.write_bytes(mutated)
            outcome = judge(path, truth, structural, cli=case % cli_every == 0,
                            limit_s=limit_s)
            results[family][outcome] += 1
            if outcome in BUGS:
                keep = workdir / f"bug-{family}-{case}.trace"
                os.replace(path, keep)
                results["bugs"].append((family, case, what, outcome, str(keep)))
    return results
