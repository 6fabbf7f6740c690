"""Event fidelity: the tiles of a GEMM replayed by SimPy processes that contend.

One generator per active unit, at tile granularity (no per-cycle polling):

- the *loader* (input DMA) takes a free half of the double-buffered input SRAM, then the
  DRAM channel for the tile's loads;
- the *regen unit* produces the tile's regenerated weights into the same buffer half,
  in parallel with the loader;
- the *PE array* waits until both are done and a free half of the output SRAM exists,
  computes, and releases the input half;
- the *writer* (output DMA) takes the DRAM channel for the tile's stores, then frees
  the output half.

Loads and stores really delay each other on the channel (a SimPy Resource served first
come, first served), which the fast fidelity approximates by charging each tile
``max(compute, (loads + stores) / bandwidth, regen)``. Both replay the same tiles
(accelsim.sim.pipeline.TileSchedule), so every count is identical and only cycles can
differ; tests hold them within 2%.
"""

from __future__ import annotations

import simpy

from accelsim.sim.pipeline import TileSchedule

BUFFER_HALVES = 2  # double buffering: one half computes while the other fills


def event_cycles(schedule: TileSchedule) -> float:
    """Cycles from the first load request to the last store of the schedule."""
    tiles = len(schedule.compute_cycles)
    if tiles == 0:
        return 0.0
    env = simpy.Environment()
    channel = simpy.Resource(env, capacity=1)
    in_halves = simpy.Container(env, capacity=BUFFER_HALVES, init=BUFFER_HALVES)
    out_halves = simpy.Container(env, capacity=BUFFER_HALVES, init=BUFFER_HALVES)
    loaded = [env.event() for _ in range(tiles)]
    computed = [env.event() for _ in range(tiles)]
    bandwidth = schedule.dram_bytes_per_cycle
    finished = []

    def regenerate(t):
        yield env.timeout(schedule.regen_cycles[t])

    def loader():
        for t in range(tiles):
            yield in_halves.get(1)
            regen = env.process(regenerate(t))
            with channel.request() as turn:
                yield turn
                yield env.timeout(schedule.load_bytes[t] / bandwidth)
            yield regen
            loaded[t].succeed()

    def pe_array():
        for t in range(tiles):
            yield loaded[t]
            yield out_halves.get(1)
            yield env.timeout(schedule.compute_cycles[t])
            yield in_halves.put(1)
            computed[t].succeed()

    def writer():
        for t in range(tiles):
            yield computed[t]
            with channel.request() as turn:
                yield turn
                yield env.timeout(schedule.store_bytes[t] / bandwidth)
            yield out_halves.put(1)
        finished.append(env.now)

    env.process(loader())
    env.process(pe_array())
    done = env.process(writer())
    env.run(until=done)
    return finished[0] - 1
