"""Exports of a replay for other tools: DRAM request traces (DRAMsim3, Ramulator 2) and a
Chrome trace-event timeline (Perfetto). See docs/export.md."""
