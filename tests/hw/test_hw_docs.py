"""docs/hardware.md documents every field of the description, and its tables are current."""

from pathlib import Path

import pytest

from accelsim.hw.description import Hardware
from accelsim.hw.docs import DERIVED_CLASSES, SECTION_CLASSES, replace_block
from accelsim.hw.loader import list_presets
from accelsim.hw.schema import params_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "hardware.md"


@pytest.fixture(scope="module")
def document() -> str:
    return DOC.read_text(encoding="utf-8")


def test_generated_reference_is_up_to_date(document):
    assert replace_block(document) == document, (
        "docs/hardware.md is stale: run python -m accelsim.hw.docs --write docs/hardware.md")


@pytest.mark.parametrize("section", list(SECTION_CLASSES))
def test_every_key_is_documented_with_its_field(document, section):
    for name, spec in params_of(SECTION_CLASSES[section]):
        if spec.key is not None:
            assert f"| `{section}.{spec.key}` | `{name}` |" in document, (section, spec.key)


def test_every_top_level_key_is_documented(document):
    for name, spec in params_of(Hardware):
        if spec.key is not None and spec.kind != "section":
            assert f"| `{spec.key}` | `{name}` |" in document, spec.key
        if spec.kind == "section":
            assert f"### `[{spec.key}]`" in document, spec.key


def test_every_derived_field_is_documented(document):
    for cls in DERIVED_CLASSES:
        for name, spec in params_of(cls):
            if spec.key is None:
                assert f"`{cls.__name__}.{name}`" in document, (cls.__name__, name)


def test_every_preset_is_listed(document):
    for name in list_presets():
        assert f"`{name}`" in document, name
