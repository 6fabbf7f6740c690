"""Sweep workers die with the process that started them.

A SIGKILLed sweep cannot stop its workers, so each worker watches its parent instead:
on Linux the kernel sends it SIGKILL when the parent dies (``PR_SET_PDEATHSIG``), and
everywhere a daemon thread exits the worker once its parent process is gone (it is
re-parented). Used by the local process pool's initializer and, through a worker plugin,
by the Dask LocalCluster a sweep starts (never by an external cluster's workers).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.5


def tie_to_parent(parent: int | None = None) -> None:
    """Make this process exit when ``parent`` (default: its current parent) dies."""
    parent = os.getppid() if parent is None else parent
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before we were watching
        os._exit(1)
    thread = threading.Thread(target=_watch, args=(parent,), name="accelsim-lifeline",
                              daemon=True)
    thread.start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL_S)
    os._exit(1)


class LifelinePlugin:
    """A Dask worker plugin: ``setup`` ties the worker process to its nanny's process,
    which for a LocalCluster is the sweep itself."""

    name = "accelsim-lifeline"

    def setup(self, worker) -> None:
        tie_to_parent()
