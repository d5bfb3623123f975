"""Garbage-collector policy of the in-process local pipeline.

The local pipeline keeps every DynamoDB item the write-back stores in moto's memory: the real
file's 536,641 scored lines become several million tracked Python objects. CPython's cyclic
collector runs a full collection each time the tracked heap grows by a quarter, and each one
walks that whole table again: measured 21.1 s of collector time in a 128 s real-data pca_kmeans
run (25 full collections, 3,189 of generation 1; ``benchmarks/pipeline_e2e.py``).

Those objects are long-lived by construction, so the local Lambda runner wraps each in-process
invocation in :func:`invocation_gc`: the collector is off while the handler runs, afterwards the
invocation's young garbage is collected (generations 0 and 1 only, the objects it created) and
whatever survived is frozen (``gc.freeze``: moved to the permanent generation that collections
skip). :func:`release` (called when the pipeline closes) unfreezes them, so a long-lived process
(a test session) collects them normally again. Reference counting frees frozen objects as usual;
only reference cycles among frozen objects wait for :func:`release`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def invocation_gc() -> Iterator[None]:
    """Run a block with the cyclic collector off, then collect its young garbage and freeze.

    Yields:
        Nothing; the collector's enabled state is restored on exit, even on error.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect(1)
        gc.freeze()
        if enabled:
            gc.enable()


def release() -> None:
    """Return the objects :func:`invocation_gc` froze to the collector (``gc.unfreeze``)."""
    gc.unfreeze()
