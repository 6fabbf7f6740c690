"""Reports over simulation results: report.md, report.json, CSV tables and figures.

``write_report(["dense.json", "dropback.json"], "report/")`` compares the runs (every
method against the dense run on the same net and hardware) and draws the figures. Needs
numpy and matplotlib, never torch.
"""

__all__ = ["write_report"]


def __getattr__(name: str):
    """Import matplotlib only when a report is written, not when the CLI starts."""
    if name == "write_report":
        from accelsim.report.writer import write_report

        return write_report
    raise AttributeError(f"module 'accelsim.report' has no attribute {name!r}")
