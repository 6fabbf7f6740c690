"""Counts apart from prices: reprice equals a fresh simulate, refuses anything but prices;
results load back; every GEMM row carries its mapping; pinned mappings are obeyed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from accelsim.cli import main
from accelsim.errors import ConfigError
from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.sim.pricing import price, prices_of, reprice
from accelsim.sim.results import COUNTER_NAMES, DERIVED, Counters, load_result

ROOT = Path(__file__).resolve().parents[2]
DROPBACK = str(ROOT / "traces" / "lenet300-dropback25.trace")
DENSE = str(ROOT / "traces" / "lenet300-dense.trace")
STEPS = "1:30"


def _close(a: dict, b: dict, rel: float = 1e-9) -> None:
    for key, value in b.items():
        assert a[key] == pytest.approx(value, rel=rel, abs=1e-9), key


@pytest.mark.parametrize("trace", [DROPBACK, DENSE])
def test_reprice_of_dram_energy_equals_a_fresh_simulate(trace):
    base = load_hardware("dropback-edge")
    cheaper = base.replace({"dram.read_energy": "3 pJ/bit", "dram.write_energy": "5 pJ/bit"})
    before = simulate(trace, base, steps=STEPS)
    fresh = simulate(trace, cheaper, steps=STEPS)
    again = reprice(before, cheaper)
    assert again.totals["energy_pj.dram"] != pytest.approx(before.totals["energy_pj.dram"])
    _close(again.totals, fresh.totals)
    for mine, theirs in zip(again.by_layer(), fresh.by_layer(), strict=True):
        _close({k: v for k, v in mine.items() if isinstance(v, float)},
               {k: v for k, v in theirs.items() if isinstance(v, float)})
    np.testing.assert_allclose(again.per_step()["energy_pj"], fresh.per_step()["energy_pj"],
                               rtol=1e-9)
    # a flat read/write price is all-in: the IDD-derived ACT, background and refresh go to 0
    assert again.options["repriced"]["changed"] == [
        "dram.act_energy_pj", "dram.background_power_w", "dram.read_energy_pj_per_bit",
        "dram.refresh_power_w", "dram.write_energy_pj_per_bit"]


SET = {"dram.vdd": "1.2 V", "dram.idd0": "90 mA", "dram.idd2n": "34 mA", "dram.idd3n": "47 mA",
       "dram.idd4r": "243 mA", "dram.idd4w": "228 mA", "dram.idd5ab": "280 mA",
       "dram.device_width": "16 bit"}


def test_reprice_of_idd_currents_equals_a_fresh_simulate():
    # a hotter IDD0 (ACT energy, and so the mapper's regen weight: within its range here)
    # and the standby terms are prices: reprice follows them exactly
    base = load_hardware("edge-lpddr4")
    hotter = base.replace({**SET, "dram.idd3n": "60 mA"})
    before = simulate(DENSE, base, steps=STEPS)
    again, fresh = reprice(before, hotter), simulate(DENSE, hotter, steps=STEPS)
    assert again.totals["energy_pj.dram"] > before.totals["energy_pj.dram"]
    _close(again.totals, fresh.totals)
    assert "dram.idd3n_ma" in again.options["repriced"]["changed"]


def test_bandwidth_model_dram_energy_is_its_parts():
    hw = load_hardware("datacenter-hbm2")
    result = simulate(DENSE, hw, steps=STEPS)
    dram, totals = hw.dram, result.totals
    seconds = totals["cycles"] / hw.array.clock_hz
    expected = (totals["dram_read_bytes"] * 8 * dram.read_energy_pj_per_bit
                + totals["dram_write_bytes"] * 8 * dram.write_energy_pj_per_bit
                + totals["dram_bytes"] / dram.row_size_bytes * dram.act_energy_pj
                + seconds * 8 * (dram.background_power_w + dram.refresh_power_w) * 1e12)
    assert totals["energy_pj.dram"] == pytest.approx(expected, rel=1e-9)
    assert dram.act_energy_pj > 0 and dram.background_power_w > 0


@pytest.mark.parametrize("regen_energy", ["1 pJ", "50 pJ", "400 pJ", "5000 pJ", "1e6 pJ"])
def test_reprice_of_regen_energy_is_exact_or_refused(regen_energy):
    # The mapper weighs regeneration by its energy: a new price either keeps every
    # mapping (then reprice must equal a fresh simulate) or is refused.
    base = load_hardware("dropback-edge").replace({"sram.capacity": "16 KiB"})
    other = base.replace({"regen.energy_per_value": regen_energy})
    before = simulate(DROPBACK, base, steps="1:4")
    fresh = simulate(DROPBACK, other, steps="1:4")
    try:
        again = reprice(before, other)
    except ConfigError as error:
        assert "re-simulate" in str(error)
        # The range is exact: outside it the mapper really chooses otherwise.
        def chosen(result):
            return [(row.get("mapping"), row.get("mappings")) for row in result.by_layer()]
        assert chosen(before) != chosen(fresh)
        return
    _close(again.totals, fresh.totals)


def test_reprice_refuses_anything_but_prices():
    base = load_hardware("dropback-edge")
    result = simulate(DROPBACK, base, steps="1:3")
    for change in ({"sram.capacity": "1 MiB"}, {"array.rows": 32},
                   {"dtypes.activations": "fp32"}, {"storage.format": "bitmap"}):
        with pytest.raises(ConfigError, match="reprice changes prices only"):
            reprice(result, base.replace(change))


def test_reprice_cli(tmp_path, capsys):
    first = tmp_path / "a.json"
    assert main([*("simulate", DROPBACK, "--hw", "dropback-edge", "--steps", "1:3"),
                 "--out", str(first)]) == 0
    hw = tmp_path / "cheap.toml"
    hw.write_text('extends = "dropback-edge"\n[dram]\nread_energy = "2 pJ/bit"\n')
    out = tmp_path / "b.json"
    assert main(["reprice", str(first), "--hw", str(hw), "--out", str(out)]) == 0
    assert "re-priced" in capsys.readouterr().out
    assert load_result(out).totals["energy_pj.dram"] < load_result(first).totals["energy_pj.dram"]
    big = tmp_path / "big.toml"
    big.write_text('extends = "dropback-edge"\n[sram]\ncapacity = "1 MiB"\n')
    refused = tmp_path / "c.json"
    assert main(["reprice", str(first), "--hw", str(big), "--out", str(refused)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sram.capacity_bytes" in err[0]
    assert not refused.exists()
    before = first.read_bytes()
    assert main(["reprice", str(first), "--hw", str(hw), "--out", str(first)]) == 1
    assert first.read_bytes() == before
    assert main(["reprice", str(tmp_path / "missing.json"), "--hw", str(hw),
                 "--out", str(refused)]) == 1


def test_load_result_round_trip_with_rows(tmp_path):
    path = tmp_path / "r.json"
    assert main(["simulate", DROPBACK, "--hw", "dropback-edge", "--steps", "1:4", "--rows",
                 "--out", str(path)]) == 0
    loaded = load_result(path)
    fresh = simulate(DROPBACK, "dropback-edge", steps="1:4")
    _close(loaded.totals, fresh.totals)
    frame, expected = loaded.to_frame(), fresh.to_frame()
    assert frame.shape == expected.shape
    np.testing.assert_allclose(frame[list(COUNTER_NAMES)].to_numpy(),
                               expected[list(COUNTER_NAMES)].to_numpy(), rtol=1e-12)
    for phase, counters in fresh.by_phase().items():
        _close(loaded.by_phase()[phase], counters)


def test_loaded_results_without_rows_say_so(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(simulate(DENSE, "edge-lpddr4", steps="1:3").to_json())
    with pytest.raises(ConfigError, match="rows of this result were not kept"):
        load_result(path).to_frame()
    (tmp_path / "bad.json").write_text(json.dumps({"format": "accelsim-result",
                                                    "version": 1}))
    with pytest.raises(ConfigError, match="re-run accelsim simulate"):
        load_result(tmp_path / "bad.json")


@pytest.mark.parametrize("flow", ["ws", "os", "is"])
def test_every_gemm_row_has_its_mapping(flow):
    hw = load_hardware("dropback-edge").replace({"array.dataflow": flow,
                                                 "sram.capacity": "8 KiB"})
    result = simulate(DROPBACK, hw, steps="1:3")
    rows = result.to_dict()["layers"]
    for row in rows:
        if row["phase"] == "update":
            assert "mapping" not in row
        else:
            mapping = row["mapping"]
            assert mapping["dataflow"] == flow and mapping["chunks"] >= 1
            assert mapping["loop_order"] in ("rows-outer", "cols-outer")
            served = row.get("mappings", [{**mapping, "training_steps": 2.0}])
            assert sum(m["training_steps"] for m in served) == pytest.approx(
                result.totals["training_steps"])
    stationary = {"ws": "weights", "os": "outputs", "is": "inputs"}[flow]
    assert [r for r in rows if r["phase"] == "fwd"][0]["mapping"]["stationary"] == stationary


def test_a_pinned_mapping_is_obeyed(tmp_path):
    hw = load_hardware("dropback-edge").replace({"sram.capacity": "8 KiB"})
    free = simulate(DROPBACK, hw, steps="1:3")
    layer = free.layers[0]
    chosen = next(r for r in free.by_layer() if r["name"] == layer and r["phase"] == "fwd")
    pin = 8 if chosen["mapping"]["chunks"] != 8 else 4
    toml = tmp_path / "pinned.toml"
    toml.write_text(f'extends = "dropback-edge"\n[sram]\ncapacity = "8 KiB"\n'
                    f'[[mapping]]\nlayer = "{layer}"\nphase = "fwd"\nchunks = {pin}\n'
                    'loop_order = "cols-outer"\n')
    pinned = simulate(DROPBACK, str(toml), steps="1:3")
    row = next(r for r in pinned.by_layer() if r["name"] == layer and r["phase"] == "fwd")
    assert row["mapping"]["chunks"] == pin and row["mapping"]["loop_order"] == "cols-outer"
    assert row["cycles"] != chosen["cycles"] or row["dram_read_bytes.inputs"] != \
        chosen["dram_read_bytes.inputs"]
    # The mapper's choice is the cheapest in DRAM bytes: a pin never beats it.
    assert row["refetch_bytes"] + row["psum_spill_bytes"] >= \
        chosen["refetch_bytes"] + chosen["psum_spill_bytes"]
    toml.write_text('extends = "dropback-edge"\n[[mapping]]\nlayer = "nope"\n')
    with pytest.raises(ConfigError, match="pins layer 'nope'"):
        simulate(DROPBACK, str(toml), steps="1:2")
    toml.write_text('extends = "dropback-edge"\n[[mapping]]\nlayer = "x"\nchunks = 0\n')
    with pytest.raises(ConfigError, match=r"mapping\[0\]\.chunks"):
        load_hardware(str(toml))


def test_counters_own_the_derived_sums():
    result = simulate(DROPBACK, "dropback-edge", steps="1:3")
    rows = Counters(result.rows, ("step", "layer", "phase"))
    totals = rows.sum("step", weights=result.step_weight).sum().as_dict()
    for name, parts in DERIVED.items():
        assert totals[name] == pytest.approx(sum(totals[p] for p in parts), rel=1e-12)
        assert result.totals[name] == pytest.approx(totals[name], rel=1e-12)
    # Pricing is linear in the counts: pricing the sums equals summing priced rows.
    prices = prices_of(load_hardware("dropback-edge"))
    summed = price(rows.sum().values.copy(), prices)
    assert rows.sum()["energy_pj"] == pytest.approx(Counters(summed, ())["energy_pj"],
                                                    rel=1e-12)


def test_reprice_of_a_sampled_result_updates_its_error_estimate():
    base = load_hardware("dropback-edge")
    other = base.replace({"dram.write_energy": "2 pJ/bit", "regen.energy_per_value": "300 pJ"})
    before = simulate(DROPBACK, base, every=25)
    fresh = simulate(DROPBACK, other, every=25)
    again = reprice(before, other)
    _close(again.totals, fresh.totals)
    errors = again.options["sampling"]["relative_standard_error"]
    assert errors["energy_pj"] == pytest.approx(
        fresh.options["sampling"]["relative_standard_error"]["energy_pj"], rel=1e-9)
    assert errors["energy_pj"] != pytest.approx(
        before.options["sampling"]["relative_standard_error"]["energy_pj"], rel=1e-6)
