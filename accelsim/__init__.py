"""accelsim: what training really costs in off-chip traffic, time and energy on an accelerator."""

__version__ = "0.1.0"
