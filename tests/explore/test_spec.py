"""Sweep specs: expansion into points, stable keys, and errors that name file and key
before any work starts."""

import shutil

import pytest

from accelsim.errors import ConfigError
from accelsim.explore import load_spec, run_sweep

from .conftest import DENSE, DROPBACK

GRID = """
hardware = ["dropback-edge", "edge-lpddr4"]
fidelity = "fast"
steps = "1:3"
[grid]
"sram.capacity" = ["64 KiB", "256 KiB", "1 MiB"]
"array.rows" = [16, 32]
[[points]]
"storage.format" = "bitmap"
"""


def test_points_are_traces_x_hardware_x_overrides_x_fidelity_in_spec_order(write_spec):
    spec = load_spec(write_spec(GRID))
    assert len(spec.points) == 2 * 2 * (3 * 2 + 1)
    assert [p.index for p in spec.points] == list(range(len(spec.points)))
    assert spec.override_keys == ("sram.capacity", "array.rows", "storage.format")
    first, second, grid_last, listed = spec.points[0], spec.points[1], spec.points[5], \
        spec.points[6]
    assert first.trace.label == str(DENSE) and first.hardware_label == "dropback-edge"
    assert dict(first.overrides) == {"sram.capacity": "64 KiB", "array.rows": 16}
    assert dict(second.overrides) == {"sram.capacity": "64 KiB", "array.rows": 32}
    assert dict(grid_last.overrides) == {"sram.capacity": "1 MiB", "array.rows": 32}
    assert dict(listed.overrides) == {"storage.format": "bitmap"}
    assert spec.points[7].hardware_label == "edge-lpddr4"
    assert spec.points[14].trace.method == "dropback"
    assert spec.points[14].trace.compression == pytest.approx(25, rel=1e-3)
    # The overrides really are applied to the description each point simulates.
    assert first.hardware.sram.capacity_bytes == 64 * 1024
    assert first.hardware.array.rows == 16 and second.hardware.array.rows == 32
    assert listed.hardware.storage.format == "bitmap"
    assert first.steps == "1:3" and first.phases == ("fwd", "bwd_data", "bwd_weight",
                                                     "update")
    assert len({p.key for p in spec.points}) == len(spec.points)


def test_nested_tables_are_dotted_keys_and_no_grid_means_one_default_point(write_spec):
    nested = load_spec(write_spec('hardware = "edge-lpddr4"\n[grid.sram]\n'
                                  'capacity = ["64 KiB", "128 KiB"]\n', traces=[DENSE]))
    assert [dict(p.overrides) for p in nested.points] == [
        {"sram.capacity": "64 KiB"}, {"sram.capacity": "128 KiB"}]
    plain = load_spec(write_spec('hardware = "edge-lpddr4"\n', traces=[DENSE], name="b.toml"))
    assert len(plain.points) == 1 and plain.points[0].overrides == ()


def test_keys_follow_content_not_names(write_spec, tmp_path):
    body = 'hardware = ["edge-lpddr4"]\nsteps = "1:3"\n'
    copy = tmp_path / "elsewhere.trace"
    shutil.copy(DENSE, copy)
    original = load_spec(write_spec(body, traces=[DENSE]))
    moved = load_spec(write_spec(body, traces=[copy], name="moved.toml"))
    assert original.points[0].key == moved.points[0].key
    # Anything that changes what is simulated changes the key.
    for change in ('steps = "1:4"', 'phases = ["fwd"]',
                   '[grid]\n"sram.capacity" = ["128 KiB"]'):
        other = load_spec(write_spec(body.replace('steps = "1:3"\n', "") + change + "\n",
                                     traces=[DENSE], name="other.toml"))
        assert other.points[0].key != original.points[0].key, change
    # The same physical description through a hardware file counts as the preset.
    design = tmp_path / "mine.toml"
    design.write_text('extends = "edge-lpddr4"\nname = "mine"\n')
    mine = load_spec(write_spec('hardware = ["mine.toml"]\nsteps = "1:3"\n', traces=[DENSE],
                                name="mine-spec.toml"))
    assert mine.points[0].hardware.name == "mine"
    assert mine.points[0].key == original.points[0].key


BAD_SPECS = [
    ('hardware = ["edge-lpddr4"]\ngird = {}\n', "unknown key 'gird'", "grid"),
    ('hardware = ["edge-lpddr4"]\n[grid]\n"sram.capacity" = []\n', "grid", "sram.capacity"),
    ('hardware = ["edge-lpddr4"]\n[grid]\n"sram.capacity" = "1 MiB"\n', "grid",
     "expected a list"),
    ('hardware = ["edge-lpddr4"]\n[grid]\n"sram.capacty" = ["1 MiB"]\n', "sram.capacty",
     'did you mean "capacity"'),
    ('hardware = ["edge-lpddr4"]\n[grid]\n"sram.capacity" = ["64 KB"]\n', "sram.capacity",
     "ambiguous"),
    ('hardware = ["edge-lpddr4"]\n[[points]]\n"nope.x" = 1\n', "points[0]", "nope"),
    ('hardware = ["edge-lpdr4"]\n', "hardware[0]", "edge-lpddr4"),
    ('hardware = ["missing.toml"]\n', "hardware[0]", "missing.toml"),
    ('hardware = ["edge-lpddr4"]\nfidelity = ["fast", "evnt"]\n', "fidelity", "evnt"),
    ('hardware = ["edge-lpddr4"]\nsteps = "1-3"\n', "steps", "1-3"),
    ('hardware = ["edge-lpddr4"]\nsteps = "1000:"\n', "steps", "selects none"),
    ('hardware = ["edge-lpddr4"]\nphases = ["fwd", "bwd"]\n', "phases", "bwd"),
    ('traces = []\nhardware = ["edge-lpddr4"]\n', "traces", "empty"),
    ('traces = ["nope.trace"]\nhardware = ["edge-lpddr4"]\n', "traces[0]", "nope.trace"),
    (f'traces = ["{DENSE}", "{DENSE}"]\nhardware = ["edge-lpddr4"]\n', "traces",
     "listed twice"),
    ('traces = ["spec.toml"]\nhardware = ["edge-lpddr4"]\n', "traces[0]", "not an accelsim"),
    ('hardware = ["edge-lpddr4"]\n[grid]\n"sram.capacity" = ["1 MiB"]\n[grid.sram]\n'
     'capacity = ["2 MiB"]\n', "grid", "given twice"),
    ('hardware = ["edge-lpddr4"\n', "", "invalid TOML"),
]


@pytest.mark.parametrize("body, where, what", BAD_SPECS)
def test_bad_spec_fails_before_any_work_naming_file_and_key(body, where, what, write_spec,
                                                            tmp_path):
    path = write_spec(body, traces=None if body.startswith("traces") else [DENSE])
    out = tmp_path / "out"
    ran = []
    with pytest.raises(ConfigError) as error:
        run_sweep(path, out, on_point=lambda point, row: ran.append(point))
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert where in message and what in message
    assert ran == [] and not out.exists()


def test_an_override_only_one_hardware_rejects_fails_up_front(write_spec, tmp_path):
    # index_bits is fine for dropback-edge (CSR) but not for edge-lpddr4 (dense), the
    # last hardware of the list: still nothing runs.
    path = write_spec('hardware = ["dropback-edge", "edge-lpddr4"]\n'
                      '[grid]\n"storage.index_bits" = [4, 8]\n')
    with pytest.raises(ConfigError, match=r"grid: \"storage.index_bits\" = 4 on hardware "
                                          r"'edge-lpddr4': .*not used by format"):
        run_sweep(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_damaged_trace_fails_up_front(write_spec, tmp_path):
    damaged = tmp_path / "damaged.trace"
    data = bytearray(DROPBACK.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a chunk far after the steps the spec simulates
    damaged.write_bytes(bytes(data))
    path = write_spec('hardware = "dropback-edge"\nsteps = "1:3"\n', traces=[DENSE, damaged])
    with pytest.raises(ConfigError, match=r"traces\[1\] .*damaged.trace.*corrupt"):
        load_spec(path)
