"""`accelsim sweep` through its own parser: help, a run, a rerun, usage and input errors."""

import argparse
from pathlib import Path

import pytest

from accelsim.errors import ConfigError
from accelsim.explore import load_spec
from accelsim.explore.command import add_parser

from .conftest import DENSE, ROOT


def parser():
    main = argparse.ArgumentParser(prog="accelsim")
    add_parser(main.add_subparsers(dest="command"))
    return main


def run(argv):
    args = parser().parse_args(argv)
    return args.run(args)


def test_help_explains_the_options():
    sweep = parser()._subparsers._group_actions[0].choices["sweep"]
    text = sweep.format_help()
    for word in ("SPEC.toml", "--executor", "{local,dask}", "--scheduler", "--workers",
                 "--out", "docs/sweeps.md", "reuses"):
        assert word in text


def test_a_run_then_a_rerun_that_reuses_every_point(write_spec, tmp_path, capsys):
    spec = write_spec('hardware = "edge-lpddr4"\nsteps = "1:3"\n[grid]\n'
                      '"array.rows" = [16, 32]\n', traces=[DENSE])
    out = tmp_path / "out"
    argv = ["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress"]
    assert run(argv) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1
    assert "2 points (2 computed, 0 reused) on local, 1 process" in line
    for name in ("results.csv", "results.parquet", "pareto.png", "pareto.svg"):
        assert str(out / name) in line and (out / name).is_file()
    assert run(argv) == 0
    assert "2 points (0 computed, 2 reused)" in capsys.readouterr().out


@pytest.mark.parametrize("extra", [
    ["--executor", "local", "--scheduler", "tcp://127.0.0.1:1"],
    ["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
    ["--workers", "0"],
    ["--executor", "mpi"],
])
def test_usage_errors_exit_2(extra, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run(["sweep", "spec.toml", "--out", str(tmp_path / "out"), *extra])
    assert exit_info.value.code == 2
    assert not (tmp_path / "out").exists()


def test_bad_spec_is_a_config_error_naming_the_file(write_spec, tmp_path):
    spec = write_spec('hardware = "edge-lpddr4"\nsteps = 3\n', traces=[DENSE])
    with pytest.raises(ConfigError, match=rf"^{spec}: steps: expected a string"):
        run(["sweep", str(spec), "--out", str(tmp_path / "out")])


def test_the_documented_example_is_valid():
    spec = load_spec(ROOT / "docs" / "examples" / "sweep-sram.toml")
    assert len(spec.points) == 24
    assert {p.trace.method for p in spec.points} == {"dense", "dropback"}
    assert Path(spec.points[0].trace.path) == DENSE
