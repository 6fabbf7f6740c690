"""accelsim: what training really costs in off-chip traffic, time and energy on an accelerator.

The Python API for exploration scripts::

    import accelsim
    trace = accelsim.load_trace("traces/lenet300-dropback25.trace")
    hw = accelsim.load_hardware("dropback-edge").replace({"sram.capacity": "1 MiB"})
    result = accelsim.simulate("traces/lenet300-dropback25.trace", hw)
    result.totals["weight_dram_read_bytes"], result.by_phase(), result.to_frame()
    saved = accelsim.load_result("dropback.json")       # a RESULT.json, back as a SimResult
    cheaper = accelsim.reprice(saved, accelsim.load_hardware("my-prices.toml"))
"""

__version__ = "0.1.0"

_API = {
    "load_trace": ("accelsim.trace", "open_trace"),
    "load_hardware": ("accelsim.hw", "load_hardware"),
    "simulate": ("accelsim.sim", "simulate"),
    "load_result": ("accelsim.sim.results", "load_result"),
    "reprice": ("accelsim.sim.pricing", "reprice"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """Import the API lazily: ``import accelsim`` stays light and torch-free."""
    if name in _API:
        from importlib import import_module

        module, attr = _API[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
