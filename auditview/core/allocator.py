"""The memory allocator of polars (jemalloc): configured before polars is imported, from the environment.

Separate from everything else so that an entry point can call it before any import that pulls in polars, at
the cost of nothing but ``os``.
"""

from __future__ import annotations

import os
from typing import Final

__all__ = ["ALLOCATOR_CONF", "configure_allocator"]

#: polars' jemalloc: give freed pages back within 100 ms, from a background thread. Measured on a cold full
#: load of 1M records (428 MB): the default keeps them (3.4 s, peak 825 MB); returning them at once on each
#: free (decay 0) costs 50 % more CPU (5.1 s, 515 MB); this: 3.6 s, 580 MB.
ALLOCATOR_CONF: Final = "background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0"


def configure_allocator() -> None:
    """Make polars' allocator return freed memory soon (lower peak RSS); call before importing polars.

    Sets ``_RJEM_MALLOC_CONF`` to ``ALLOCATOR_CONF`` unless the user set it. No effect once polars is loaded.
    """
    os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_CONF)
