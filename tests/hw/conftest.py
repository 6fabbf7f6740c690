"""Fixtures for the hardware-description tests: small TOML files written on the fly."""

from pathlib import Path

import pytest

MINIMAL = """
name = "tiny"

[array]
rows = 4
cols = 4
clock = "1 GHz"

[sram]
capacity = "64 KiB"

[dram]
standard = "ideal"
bandwidth_words_per_cycle = 10
"""


@pytest.fixture
def write_toml(tmp_path):
    """write_toml(name, text) -> path of a TOML file in a fresh folder."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def minimal_text():
    return MINIMAL
