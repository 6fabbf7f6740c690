"""Header minor 1: the optimizer's hyper-parameters and lr schedule; minor-0 files still read."""

from pathlib import Path

import pytest
from trace_support import header_for

from accelsim.errors import TraceError
from accelsim.trace import TraceHeader, open_trace
from accelsim.trace.model import FORMAT_MINOR

SAMPLE = Path(__file__).resolve().parents[2] / "traces" / "lenet300-dense.trace"


def test_optimizer_params_round_trip():
    header = header_for([4, 3])
    header.optimizer = "adamw"
    header.optimizer_params = {"lr": 1e-3, "betas": [0.9, 0.999], "weight_decay": 0.01,
                               "lr_schedule": {"kind": "cosine", "spec": "cosine"}}
    again = TraceHeader.from_dict(header.to_dict())
    assert again.optimizer_params == header.optimizer_params


def test_a_minor_0_header_without_the_key_reads_as_not_recorded():
    data = header_for([4]).to_dict()
    del data["optimizer_params"]
    assert TraceHeader.from_dict(data, minor=0).optimizer_params == {}


def test_a_mistyped_optimizer_params_is_named():
    data = header_for([4]).to_dict()
    data["optimizer_params"] = [0.1]
    with pytest.raises(TraceError, match="header.optimizer_params has type list"):
        TraceHeader.from_dict(data, minor=FORMAT_MINOR)


def test_the_checked_in_minor_0_sample_trace_still_reads():
    with open_trace(SAMPLE) as trace:
        assert trace.header.optimizer == "sgd" and trace.header.optimizer_params == {}
