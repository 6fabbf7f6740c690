"""The `accelsim` command: success paths and one-line errors with exit code 1."""

import json
import subprocess
import sys

import pytest

from accelsim.cli import main
from accelsim.trace import open_trace


@pytest.mark.parametrize(
    "args, message",
    [
        (["--net", "lenet-9000"], "unknown net"),
        (["--method", "magic"], "unknown method"),
        (["--method", "dropback", "--budget", "300000"], "budget 300000"),
        (["--epochs", "-1"], "--epochs must be >= 0"),
        (["--dataset", "mnist"], "--data-dir"),
        (["--dataset", "mnist", "--data-dir", "/nonexistent/mnist"], "/nonexistent/mnist"),
        (["--method", "dense", "--compression", "4"], "takes no --compression"),
        (["--lr", "0"], "--lr must be a positive number"),
        (["--optimizer", "rmsprop"], "unknown optimizer 'rmsprop'"),
        (["--lr-schedule", "step:ten:0.5"], "EPOCHS must be a whole number"),
        (["--lr-schedule", "step:10"], "write step:EPOCHS:FACTOR"),
        (["--lr-schedule", "step:10:0"], "FACTOR must be a positive number"),
        (["--lr-schedule", "linear"], "is not one of constant"),
        (["--optimizer", "adam", "--momentum", "0.9"], "--momentum is an SGD option"),
        (["--weight-decay", "-1e-4"], "--weight-decay must be >= 0"),
        (["--momentum", "1"], "--momentum must be in [0, 1)"),
        (["--nesterov"], "--nesterov needs"),
        (["--method", "dropback", "--init-decay", "-0.5"], "init_decay must be in (0, 1]"),
        (["--method", "dense", "--init-decay", "0.9"], "--init-decay is a dropback option"),
    ],
)
def test_bad_record_input_is_one_line_and_exit_1(args, message, tmp_path, capsys):
    out = tmp_path / "never.trace"
    code = main(["record", *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("accelsim: error: ") and err.count("\n") == 1
    assert message.lower() in err.lower()
    assert "Traceback" not in err
    assert not out.exists()


def test_optimizer_flags_reach_the_trace_header_and_trace_info(tmp_path, capsys):
    adam, sgd = tmp_path / "adam.trace", tmp_path / "sgd.trace"
    common = ["--dataset", "synthetic", "--epochs", "2", "--json"]
    assert main(["record", *common, "--optimizer", "adam", "--weight-decay", "1e-4",
                 "--out", str(adam)]) == 0
    assert main(["record", *common, "--optimizer", "sgd", "--momentum", "0.9",
                 "--lr-schedule", "step:1:0.5", "--out", str(sgd)]) == 0
    with open_trace(adam) as trace:
        header = trace.header
        assert (header.optimizer, header.optimizer_state_per_weight) == ("adam", 2)
        assert header.optimizer_params["lr"] == 1e-3
        assert header.optimizer_params["weight_decay"] == 1e-4
        assert header.optimizer_params["betas"] == [0.9, 0.999]
        assert header.optimizer_params["lr_schedule"] == {"kind": "constant",
                                                          "spec": "constant"}
    with open_trace(sgd) as trace:
        header = trace.header
        assert (header.optimizer, header.optimizer_state_per_weight) == ("sgd", 1)
        assert header.optimizer_params["momentum"] == 0.9
        assert header.optimizer_params["lr_schedule"]["factor"] == 0.5
        # the schedule halved the lr after the first epoch (7 steps of 400 / 64)
        lrs = [record.lr for record in trace.iter_steps()]
        assert lrs[0] == 0.1 and lrs[-1] == 0.05
    capsys.readouterr()
    assert main(["trace", "info", str(sgd)]) == 0
    text = capsys.readouterr().out
    assert "optimizer    sgd (lr 0.1, momentum 0.9, lr schedule step:1:0.5)" in text
    assert "state per weight 1" in text
    assert main(["trace", "info", str(adam), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["optimizer_params"]["weight_decay"] == 1e-4
    assert info["optimizer_state_per_weight"] == 2


def test_existing_output_is_kept(tmp_path, capsys):
    out = tmp_path / "keep.trace"
    out.write_text("do not lose me")
    assert main(["record", "--epochs", "1", "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == "do not lose me"


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["record", "--epochs", "many", "--out", "x"])
    assert exc.value.code == 2


def test_record_json_info_and_verify_through_the_console_script(tmp_path):
    out = tmp_path / "db.trace"
    done = subprocess.run(
        [sys.executable, "-m", "accelsim.cli", "record", "--method", "dropback",
         "--compression", "25", "--epochs", "2", "--seed", "1", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["net"] == "lenet-300-100" and summary["params"] == 266_610
    assert summary["tracked"] == 266_610 // 25 and summary["steps"] == 2 * 23
    assert summary["compression"] == pytest.approx(25.0, rel=1e-3)
    assert 0 <= summary["test_accuracy"] <= 100
    with open_trace(str(out)) as trace:
        assert trace.num_steps == summary["steps"]
        counts = trace.stored_counts()
        assert (counts.sum(axis=1) == summary["tracked"]).all()
    assert main(["trace", "verify", str(out)]) == 0
    assert main(["trace", "info", str(out), "--json"]) == 0


def test_verify_reports_damage_with_exit_1(tmp_path, capsys):
    out = tmp_path / "d.trace"
    assert main(["record", "--epochs", "1", "--out", str(out), "--json"]) == 0
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["trace", "verify", str(out)]) == 1
    assert "corrupt" in capsys.readouterr().out.lower()


def test_warnings_are_one_line_each(tmp_path, capsys):
    # A recording of a step the simulator cannot fully cost warns once, as a command line
    # says things: "accelsim: warning: ...", not Python's file:line: UserWarning form.
    assert main(["record", "--dataset", "synthetic", "--epochs", "1",
                 "--out", str(tmp_path / "w.trace")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warned = [line for line in err if "does not cost" in line]
    assert len(warned) == 1 and warned[0].startswith("accelsim: warning: ")
    assert not any("UserWarning" in line or ".py:" in line for line in err)
