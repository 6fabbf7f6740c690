"""Sweeps: a TOML spec of traces x hardware x overrides x fidelities, run on local
processes (default) or a Dask cluster, resumable, with a results table and a Pareto figure.

``run_sweep("docs/examples/sweep-sram.toml", "out/sram")`` returns the table as a
DataFrame; docs/sweeps.md describes the spec and the outputs.
"""

_API = {
    "run_sweep": ("accelsim.explore.sweep", "run_sweep"),
    "SweepPointError": ("accelsim.explore.sweep", "SweepPointError"),
    "load_spec": ("accelsim.explore.spec", "load_spec"),
    "SweepSpec": ("accelsim.explore.spec", "SweepSpec"),
    "Point": ("accelsim.explore.spec", "Point"),
    "run_point": ("accelsim.explore.task", "run_point"),
    "SweepExecutor": ("accelsim.explore.executors", "SweepExecutor"),
    "LocalExecutor": ("accelsim.explore.executors", "LocalExecutor"),
    "DaskExecutor": ("accelsim.explore.executors", "DaskExecutor"),
    "make_executor": ("accelsim.explore.executors", "make_executor"),
}

__all__ = list(_API)


def __getattr__(name: str):
    """Import lazily: a worker process that unpickles a task stays light."""
    if name in _API:
        from importlib import import_module

        module, attr = _API[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'accelsim.explore' has no attribute {name!r}")
