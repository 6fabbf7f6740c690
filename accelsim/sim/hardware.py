"""The numbers the replay needs, read off a hardware description (accelsim.hw)."""

from __future__ import annotations

from accelsim.hw import Hardware
from accelsim.sim.dataflow import Mapping
from accelsim.sim.gemm_cost import ArrayConfig
from accelsim.sim.pricing import prices_of, regen_byte_cost
from accelsim.sim.replay import SimParams


def sim_params(hw: Hardware, dram_efficiency: bool = True) -> SimParams:
    """Flatten a Hardware description into the replay's plain parameters.

    Buffers: per-operand SRAMs give A (ifmap), B (filter) and O (ofmap) their own working
    halves; a unified SRAM is shared equally by the three operands. Energies per access
    become energies per byte at the SRAM's access width (the ifmap buffer's, for all
    three). DRAM transfers run at ``dram.bandwidth_efficiency`` of the peak unless
    ``dram_efficiency`` is False (the burst-level model times them). Prices come from
    accelsim.sim.pricing; the replay applies them to its
    counts at the end. Mappings the description pins (``[[mapping]]``) override the
    mapper for their layers.
    """
    sram, dtypes = hw.sram, hw.dtypes
    share = 3 if sram.organization == "unified" else 1
    a, b, o = (sram.buffer(name) for name in ("ifmap", "filter", "ofmap"))
    array = ArrayConfig(
        rows=hw.array.rows, cols=hw.array.cols, dataflow=hw.array.dataflow,
        a_buffer_bytes=a.working_set_bytes / share, b_buffer_bytes=b.working_set_bytes / share,
        o_buffer_bytes=o.working_set_bytes / share,
        # The bandwidth model moves bytes at the calibrated share of the peak; with the
        # burst-level model (dram_efficiency=False) the pipeline runs at the peak and the
        # burst model's serve times bound the cycles instead (sim.dram_replay).
        dram_bytes_per_cycle=hw.dram_bytes_per_cycle
        * (hw.dram.efficiency if dram_efficiency else 1.0),
        regen_lanes=hw.regen.lanes if hw.regen else 0,
        tiling=hw.array.tiling,
        # A regenerated value weighed by its energy against a DRAM byte's, for mapping.
        regen_byte_cost=regen_byte_cost(hw),
    )
    return SimParams(
        name=hw.name, array=array, clock_hz=hw.array.clock_hz,
        weight_bytes=dtypes.weights_bytes, activation_bytes=dtypes.activations_bytes,
        gradient_bytes=dtypes.gradients_bytes, state_bytes=dtypes.optimizer_state_bytes,
        storage=hw.storage, has_regen=hw.regen is not None,
        update_lanes=hw.array.rows * hw.array.cols, prices=prices_of(hw),
        pinned=tuple((pin.layer, "" if pin.phase == "all" else pin.phase,
                      Mapping(pin.chunks, pin.rows_outer))
                     for pin in hw.mappings),
        sparsity=hw.sparsity, weight_dtype=hw.dtypes.weights,
        sram_capacity_bytes=float(sram.total_capacity_bytes),
        double_buffered=sram.double_buffered, residency=sram.residency,
        fuse_update=hw.fusion.weight_update,
        vector_lanes=hw.vector.lanes if hw.vector else 0,
        fuse_elementwise=hw.fusion.elementwise,
        vector_clock_ratio=hw.array.clock_hz / hw.vector.clock_of(hw.array) if hw.vector
        else 1.0,
    )
