"""Process-level settings for the stages that churn through millions of small records."""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a block; restore its previous state afterwards.

    Curate and build make millions of small dicts, lists and strings and no reference cycles, so the
    cyclic collector only re-scans the growing heap again and again (measured: 1M messages curated in
    54 s with it, superlinear in the input; without it, linear). Refcounting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
