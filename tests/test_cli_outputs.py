"""Every command refuses an impossible output before doing any work, never writes onto
one of its inputs, and says what went wrong in one line (issue 15, items 6 and 8)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from accelsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
DENSE = ROOT / "traces" / "lenet300-dense.trace"


def one_error(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = [line.rsplit("\r", 1)[-1] for line in err.split("\n") if line.strip()]
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("accelsim: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def trace(tmp_path) -> Path:
    path = tmp_path / "t.trace"
    shutil.copy(DENSE, path)
    return path


def test_simulate_refuses_to_write_its_result_onto_the_trace(tmp_path, trace, capsys):
    before = trace.read_bytes()
    code = main(["simulate", str(trace), "--hw", "dropback-edge", "--out", str(trace)])
    one_error(capsys, code, "--out", "is an input")
    assert trace.read_bytes() == before


def test_simulate_refuses_onto_the_hardware_file_or_a_folder(tmp_path, trace, capsys):
    hw = tmp_path / "hw.toml"
    shutil.copy(ROOT / "models" / "dropback-edge.toml", hw)
    code = main(["simulate", str(trace), "--hw", str(hw), "--out", str(hw)])
    one_error(capsys, code, "is an input")
    code = main(["simulate", str(trace), "--hw", str(hw), "--out", str(tmp_path)])
    one_error(capsys, code, "is a folder")


def test_csv_into_a_missing_folder_fails_before_out_is_written(tmp_path, trace, capsys):
    out = tmp_path / "r.json"
    code = main(["simulate", str(trace), "--hw", "dropback-edge", "--out", str(out),
                 "--csv", str(tmp_path / "missing" / "l.csv")])
    one_error(capsys, code, "--csv", "does not exist")
    assert not out.exists()


def test_empty_phases_are_refused(tmp_path, trace, capsys):
    code = main(["simulate", str(trace), "--hw", "dropback-edge", "--out",
                 str(tmp_path / "r.json"), "--phases", ","])
    one_error(capsys, code, "--phases")


def test_record_with_zero_epochs_writes_nothing_and_says_so(tmp_path, capsys):
    out = tmp_path / "e0.trace"
    code = main(["record", "--epochs", "0", "--out", str(out)])
    one_error(capsys, code, "no optimizer step", str(out))
    assert not out.exists() and not Path(f"{out}.journal").exists()


def test_record_into_a_missing_folder_fails_at_once(tmp_path, capsys):
    code = main(["record", "--epochs", "1", "--out", str(tmp_path / "no" / "x.trace")])
    one_error(capsys, code, "does not exist")


def test_export_refuses_to_write_onto_its_trace(tmp_path, trace, capsys):
    before = trace.read_bytes()
    code = main(["export", str(trace), "--hw", "dropback-edge", "--format", "chrome",
                 "--out", str(trace)])
    one_error(capsys, code, "is an input")
    assert trace.read_bytes() == before


def test_report_never_replaces_one_of_its_results(tmp_path, trace, capsys):
    result = tmp_path / "report.json"
    assert main(["simulate", str(trace), "--hw", "dropback-edge", "--steps", "1:3",
                 "--out", str(result)]) == 0
    capsys.readouterr()
    before = result.read_bytes()
    code = main(["report", str(result), "--out", str(tmp_path)])
    one_error(capsys, code, "would replace its input")
    assert result.read_bytes() == before
