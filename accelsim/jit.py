"""``njit`` with numba's on-disk cache, falling back to no cache where none is writable.

numba looks for a writable cache next to the source (``__pycache__``) and then in the
user's cache directory; where neither is writable (a read-only install and no writable
home) ``cache=True`` raises "cannot cache function" at import. Every accelsim kernel is
decorated through this module instead: it compiles uncached there (each process then
compiles again, a few seconds) and says so once on stderr. ``NUMBA_CACHE_DIR`` points
numba at a writable cache directory.
"""

from __future__ import annotations

import sys

import numba

_warned = False


def njit(*args, **options):
    """``numba.njit`` (``cache=True`` unless told otherwise) that survives an unwritable
    cache; use as ``@njit(cache=True)`` or ``@njit``."""
    if args and callable(args[0]):
        return _compile(args[0], options)
    return lambda function: _compile(function, options)


def _compile(function, options):
    try:
        return numba.njit(**options)(function)
    except RuntimeError as err:
        if not options.get("cache") or "cannot cache" not in str(err):
            raise
    _warn_once()
    return numba.njit(**{**options, "cache": False})(function)


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        print("accelsim: warning: numba finds no writable cache directory (set "
              "NUMBA_CACHE_DIR to one); compiling without a cache", file=sys.stderr)
