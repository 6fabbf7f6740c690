"""Quantities with units parse into base units; anything else fails with the reason."""

import pytest

from accelsim.hw.units import UnitError, parse_count, parse_number, parse_quantity


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("64 KiB", "size", 65536),
    ("2 MiB", "size", 2 * 1024 * 1024),
    ("512 B", "size", 512),
    ("64 kB", "size", 64000),
    ("1 GB", "size", 10**9),
    ("1 GiB", "size", 2**30),
    ("1.5KiB", "size", 1536),
    ("64 bit", "bits", 64),
    ("1 Kibit", "bits", 1024),
    ("1 GHz", "frequency", 1e9),
    ("800 MHz", "frequency", 8e8),
    ("13.75 ns", "duration", 13.75e-9),
    ("7.8 us", "duration", 7.8e-6),
    ("7.8 µs", "duration", 7.8e-6),
    ("8 pJ/bit", "energy_per_bit", 8.0),
    ("0.2 pJ", "energy", 0.2),
    ("4.2 nJ", "energy", 4200.0),
    ("1.5 mW", "power", 1.5e-3),
    ("3200 MT/s", "transfer_rate", 3.2e9),
    ("25.6 GB/s", "bandwidth", 25.6e9),
    ("1e3 B", "size", 1000),
])
def test_quantities_parse_to_base_units(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12)


def test_sizes_and_widths_are_whole_numbers():
    assert isinstance(parse_quantity("64 KiB", "size"), int)
    assert isinstance(parse_quantity("64 bit", "bits"), int)
    with pytest.raises(UnitError, match="not a whole number"):
        parse_quantity("0.5 B", "size")


def test_decimal_and_binary_prefixes_differ():
    assert parse_quantity("1 kB", "size") == 1000
    assert parse_quantity("1 KiB", "size") == 1024
    assert parse_quantity("1 MB/s", "bandwidth") != parse_quantity("1 MiB/s", "bandwidth")


def test_wrong_unit_names_the_expected_kind():
    with pytest.raises(UnitError) as error:
        parse_quantity("64 kHz", "size")
    assert str(error.value) == 'expected a size like "64 KiB", got "64 kHz"'


@pytest.mark.parametrize(("text", "kind"), [
    ("1 GHz", "duration"), ("8 pJ", "energy_per_bit"), ("8 pJ/bit", "energy"),
    ("3200 MHz", "transfer_rate"), ("lots", "size"), ("", "size"), ("64", "size"),
    ("KiB 64", "size"), ("inf B", "size"),
])
def test_mismatched_or_malformed_values_fail(text, kind):
    with pytest.raises(UnitError, match="expected"):
        parse_quantity(text, kind)


def test_ambiguous_KB_is_refused_with_the_alternatives():
    with pytest.raises(UnitError, match="ambiguous.*kB.*KiB"):
        parse_quantity("8 KB", "size")


def test_a_plain_number_needs_a_unit_unless_base_units_are_allowed():
    with pytest.raises(UnitError, match="plain number: add the unit"):
        parse_quantity(65536, "size")
    assert parse_quantity(65536, "size", bare_is_base=True) == 65536
    assert parse_quantity(1e9, "frequency", bare_is_base=True) == 1e9
    with pytest.raises(UnitError):
        parse_quantity(True, "size", bare_is_base=True)


def test_dimensionless_values_are_plain_numbers():
    assert parse_count(16) == 16
    assert parse_count(16.0) == 16
    assert parse_number(10) == 10.0
    for bad in (2.5, "16", True, None):
        with pytest.raises(UnitError, match="whole number"):
            parse_count(bad)
    with pytest.raises(UnitError):
        parse_number("10")
