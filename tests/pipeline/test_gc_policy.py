"""The local pipeline's garbage-collector policy around in-process Lambda invocations."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from retailsage.pipeline import gc_policy


class Node:
    """A reference-cycle member that a weak reference can watch."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_the_collector_is_off_inside_and_restored_after() -> None:
    gc.enable()
    with gc_policy.invocation_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with gc_policy.invocation_gc():
        pass
    assert not gc.isenabled()  # a caller's disabled collector stays disabled


def test_an_error_inside_still_restores_the_collector() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), gc_policy.invocation_gc():
        raise RuntimeError("handler failed")
    assert gc.isenabled()


def test_young_cycles_are_collected_and_survivors_frozen_until_release() -> None:
    gc.unfreeze()
    with gc_policy.invocation_gc():
        garbage, kept = Node(), Node()
        garbage.other, kept.other = garbage, kept  # two cycles; only one stays referenced
        watch = weakref.ref(garbage)
        del garbage
        assert watch() is not None  # no collection ran inside
    assert watch() is None  # the invocation's young garbage went on exit
    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects(generation=2))  # frozen: skipped
    gc_policy.release()
    assert gc.get_freeze_count() == 0
    assert any(o is kept for o in gc.get_objects(generation=2))  # collected normally again
