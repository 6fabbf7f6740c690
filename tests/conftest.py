"""Suite-wide checks: every result the suite serialises must load back unchanged."""

from __future__ import annotations

import json

import pytest

from accelsim.sim.results import SimResult


@pytest.fixture(autouse=True)
def results_round_trip(monkeypatch):
    """Wrap SimResult.to_json: whatever a test writes, load_result must read back to the
    same document (and, with rows, the same rows)."""
    original = SimResult.to_json

    def checked(self, rows: bool = False) -> str:
        text = original(self, rows)
        again = original(SimResult.from_dict(json.loads(text), "round trip"), rows)
        assert again == text, "SimResult.from_dict(to_dict()) changed the result"
        return text

    monkeypatch.setattr(SimResult, "to_json", checked)
    yield
