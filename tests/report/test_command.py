"""`accelsim report RESULT.json... --out DIR`, through a parser built here."""

from __future__ import annotations

import argparse

import pytest
from report_support import write_result

from accelsim.errors import ConfigError
from accelsim.report.command import add_parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="accelsim")
    add_parser(parser.add_subparsers())
    return parser


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["report", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "RESULT.json" in text and "--out DIR" in text and "report.md" in text


def test_out_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["report", "a.json"])
    assert exit_info.value.code == 2


def test_run_replaces_the_report_and_prints_what_it_wrote(results_dir, tmp_path, capsys):
    dense = write_result(results_dir, "dense")
    dropback = write_result(results_dir, "db", method="dropback", compression=25)
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("an older report")
    (out / "notes.txt").write_text("not the report's")
    args = _parser().parse_args(["report", str(dense), str(dropback), "--out", str(out)])
    assert args.run(args) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == str(out / "report.md")
    assert str(out / "figures" / "energy_by_component.png") in printed
    assert printed[-1].startswith("report of 2 results:")
    assert (out / "report.md").read_text().startswith("# accelsim report")
    assert (out / "notes.txt").read_text() == "not the report's"
    assert not [path for path in out.iterdir() if path.name.startswith(".")]


def test_run_raises_config_error_for_a_bad_file(tmp_path):
    args = _parser().parse_args(["report", str(tmp_path / "missing.json"),
                                 "--out", str(tmp_path / "out")])
    with pytest.raises(ConfigError, match="missing.json"):
        args.run(args)
