"""The numbers the replay needs, read off a hardware description (accelsim.hw)."""

from __future__ import annotations

from accelsim.hw import Hardware
from accelsim.sim.gemm_cost import ArrayConfig
from accelsim.sim.replay import SimParams


def sim_params(hw: Hardware) -> SimParams:
    """Flatten a Hardware description into the replay's plain parameters.

    Buffers: per-operand SRAMs give A (ifmap), B (filter) and O (ofmap) their own working
    halves; a unified SRAM is shared equally by the three operands. Energies per access
    become energies per byte at the SRAM's access width (the ifmap buffer's, for all
    three). DRAM energy is the standard's read and write pJ/bit (the burst-level model
    with ACT/PRE and refresh runs beside it with ``simulate(dram_model="burst")``).
    """
    sram, dram, dtypes = hw.sram, hw.dram, hw.dtypes
    share = 3 if sram.organization == "unified" else 1
    a, b, o = (sram.buffer(name) for name in ("ifmap", "filter", "ofmap"))
    width_bytes = sram.width_bits / 8
    array = ArrayConfig(
        rows=hw.array.rows, cols=hw.array.cols, dataflow=hw.array.dataflow,
        a_buffer_bytes=a.working_set_bytes / share, b_buffer_bytes=b.working_set_bytes / share,
        o_buffer_bytes=o.working_set_bytes / share,
        dram_bytes_per_cycle=hw.dram_bytes_per_cycle,
        regen_lanes=hw.regen.lanes if hw.regen else 0,
        tiling=hw.array.tiling,
        # A regenerated value weighed by its energy against a DRAM byte's, for mapping.
        regen_byte_cost=(hw.regen.energy_per_value_pj / (dram.read_energy_pj_per_bit * 8)
                         if hw.regen else 0.0),
    )
    return SimParams(
        name=hw.name, array=array, clock_hz=hw.array.clock_hz,
        weight_bytes=dtypes.weights_bytes, activation_bytes=dtypes.activations_bytes,
        gradient_bytes=dtypes.gradients_bytes, state_bytes=dtypes.optimizer_state_bytes,
        storage=hw.storage, has_regen=hw.regen is not None,
        regen_pj_per_value=hw.regen.energy_per_value_pj if hw.regen else 0.0,
        mac_pj=hw.array.mac_energy_pj(dtypes.weights),
        sram_read_pj_per_byte=a.read_energy_pj / width_bytes,
        sram_write_pj_per_byte=a.write_energy_pj / width_bytes,
        dram_read_pj_per_byte=8 * dram.read_energy_pj_per_bit,
        dram_write_pj_per_byte=8 * dram.write_energy_pj_per_bit,
        leakage_w=sram.leakage_power_w,
        update_lanes=hw.array.rows * hw.array.cols,
    )
