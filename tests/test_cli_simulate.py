"""`accelsim simulate` in-process: results on disk, and one clear line for every bad input.

Exit 0 on success, 1 on bad input (one line on stderr, ``accelsim: error: ...``, naming
the file, key or option; no traceback; the --out file neither created nor touched), 2 on
usage errors. The progress bar (tqdm, carriage returns) may precede the error on stderr:
what counts is what a terminal shows, the text after the last carriage return of a line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from accelsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
DROPBACK = str(ROOT / "traces" / "lenet300-dropback25.trace")
TOPOLOGY = str(ROOT / "tests" / "data" / "scalesim" / "ws" / "topology.csv")
TOTALS = ("cycles", "energy_pj", "dram_read_bytes", "dram_write_bytes",
          "weight_dram_read_bytes", "regen_values", "macs")
TRAFFIC_CLASSES = ("weights", "metadata", "inputs", "outputs", "gradients", "optimizer_state")


def visible_lines(text: str) -> list[str]:
    lines = (line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    return [line for line in lines if line.strip()]


def test_simulate_writes_json_and_csv(tmp_path, capsys):
    out, table = tmp_path / "R.json", tmp_path / "L.csv"
    code = main(["simulate", DROPBACK, "--hw", "dropback-edge", "--out", str(out),
                 "--csv", str(table)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    assert str(out) in captured.out and "lenet-300-100" in captured.out
    result = json.loads(out.read_text())
    totals = result["totals"]
    for key in TOTALS:
        assert isinstance(totals[key], float) and totals[key] > 0, key
    assert totals["training_steps"] == 345
    assert totals["weight_dram_read_bytes"] == pytest.approx(
        totals["dram_read_bytes.weights"] + totals["dram_read_bytes.metadata"])
    rows = result["layers"]
    assert {(row["name"], row["phase"]) for row in rows} == {
        (layer, phase) for layer in ("1", "3", "5")
        for phase in ("fwd", "bwd_data", "bwd_weight", "update")} - {("1", "bwd_data")}
    for row in rows:
        for key in ("name", "phase", "compute_cycles", "cycles", "macs", "regen_values"):
            assert key in row, key
        for operand in TRAFFIC_CLASSES:
            assert f"dram_read_bytes.{operand}" in row and f"dram_write_bytes.{operand}" in row
        assert row["cycles"] >= row["compute_cycles"]
    for key in ("cycles", "macs", "dram_read_bytes.weights", "regen_values"):
        assert sum(row[key] for row in rows) == pytest.approx(totals[key], rel=1e-9)
    assert result["hardware"]["name"] == "dropback-edge"
    assert result["trace"]["method"] == "dropback"
    with open(table, newline="") as handle:
        table_rows = list(csv.DictReader(handle))
    assert [(r["name"], r["phase"]) for r in table_rows] == [(r["name"], r["phase"])
                                                             for r in rows]
    assert float(table_rows[0]["cycles"]) == pytest.approx(rows[0]["cycles"], rel=1e-12)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files


def test_simulate_topology(tmp_path, capsys):
    out = tmp_path / "R.json"
    code = main(["simulate", "--topology", TOPOLOGY, "--hw", "scalesim-32x32-ws",
                 "--phases", "fwd", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert len(result["layers"]) == 8 and {r["phase"] for r in result["layers"]} == {"fwd"}
    assert result["layers"][0]["name"] == "conv1_3x3_c3_k64"
    assert result["totals"]["macs"] > 0 and result["totals"]["regen_values"] == 0


def test_steps_and_phases_select(tmp_path, capsys):
    out = tmp_path / "R.json"
    code = main(["simulate", DROPBACK, "--hw", "dropback-edge", "--steps", "10:20",
                 "--phases", "fwd,update", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["per_step"]["step"] == list(range(10, 20))
    assert {r["phase"] for r in result["layers"]} == {"fwd", "update"}


# --- bad inputs ----------------------------------------------------------------------------

def _write(path: Path, text: str | bytes) -> str:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def _flipped(tmp_path: Path) -> str:
    data = bytearray(Path(DROPBACK).read_bytes())
    data[len(data) // 2] ^= 0xFF
    return _write(tmp_path / "flipped.trace", bytes(data))


BAD = {
    # name: (argv builder, words the message must contain)
    "wrong unit": (lambda t: [DROPBACK, "--hw", _write(
        t / "unit.toml", 'extends = "dropback-edge"\n[sram]\ncapacity = "64 kHz"\n')],
        ["unit.toml", "sram.capacity", "64 kHz"]),
    "unknown key": (lambda t: [DROPBACK, "--hw", _write(
        t / "key.toml", 'extends = "dropback-edge"\n[sram]\ncapacityy = "64 KiB"\n')],
        ["key.toml", "sram.capacityy"]),
    "missing hardware file": (lambda t: [DROPBACK, "--hw", str(t / "nowhere.toml")],
                              ["nowhere.toml"]),
    "unknown preset": (lambda t: [DROPBACK, "--hw", "no-such-preset"], ["no-such-preset"]),
    "garbage trace": (lambda t: [_write(t / "garbage.trace", bytes(range(256)) * 20),
                                 "--hw", "dropback-edge"], ["garbage.trace"]),
    "empty trace": (lambda t: [_write(t / "empty.trace", b""), "--hw", "dropback-edge"],
                    ["empty.trace"]),
    "missing trace": (lambda t: [str(t / "nowhere.trace"), "--hw", "dropback-edge"],
                      ["nowhere.trace"]),
    "flipped byte": (lambda t: [_flipped(t), "--hw", "dropback-edge"],
                     ["flipped.trace", "corrupt"]),
    "steps past the end": (lambda t: [DROPBACK, "--hw", "dropback-edge", "--steps", "9999:"],
                           ["--steps", "9999:"]),
    "steps not numbers": (lambda t: [DROPBACK, "--hw", "dropback-edge", "--steps", "a:b"],
                          ["--steps", "a:b"]),
    "unknown phase": (lambda t: [DROPBACK, "--hw", "dropback-edge", "--phases", "fwd,bogus"],
                      ["bogus"]),
    "missing topology": (lambda t: ["--topology", str(t / "nowhere.csv"),
                                    "--hw", "scalesim-32x32-ws"], ["nowhere.csv"]),
    "topology not numbers": (lambda t: ["--topology", _write(
        t / "words.csv", "Layer, H, W, FH, FW, C, K, S,\nconv1, 32, x2, 3, 3, 3, 64, 1,\n"),
        "--hw", "scalesim-32x32-ws"], ["words.csv", ":2", "conv1"]),
    "topology impossible": (lambda t: ["--topology", _write(
        t / "zero.csv", "Layer, H, W, FH, FW, C, K, S,\nconv1, 32, 32, 3, 3, 0, 64, 1,\n"),
        "--hw", "scalesim-32x32-ws"], ["zero.csv", "conv1"]),
    "topology short row": (lambda t: ["--topology", _write(
        t / "short.csv", "Layer, H, W, FH, FW, C, K, S,\nconv1, 32, 32, 3, 3,\n"),
        "--hw", "scalesim-32x32-ws"], ["short.csv", ":2"]),
}


@pytest.mark.parametrize("existing", [False, True], ids=["no-out", "out-exists"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_1(case, existing, tmp_path, capsys):
    argv, words = BAD[case]
    out = tmp_path / "R.json"
    if existing:
        out.write_text("KEEP")
    code = main(["simulate", *argv(tmp_path), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1, (case, captured.err)
    assert "Traceback" not in captured.err
    lines = visible_lines(captured.err)
    assert len(lines) == 1, lines
    assert lines[0].startswith("accelsim: error: "), lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert captured.out == ""
    if existing:
        assert out.read_text() == "KEEP"
    else:
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("argv", [
    ["simulate", DROPBACK, "--hw", "dropback-edge"],  # no --out
    ["simulate", "--hw", "dropback-edge", "--out", "R.json"],  # no trace nor topology
    ["simulate", DROPBACK, "--out", "R.json"],  # no --hw
    ["simulate", DROPBACK, "--topology", TOPOLOGY, "--hw", "dropback-edge", "--out", "R.json"],
])
def test_usage_errors_exit_2(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert "usage:" in capsys.readouterr().err
    assert not (tmp_path / "R.json").exists()
