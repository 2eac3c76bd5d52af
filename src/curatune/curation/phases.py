"""Progress of the long phases inside a run (embedding, clustering, IFD scoring), shown by whoever runs it.

A step that works for more than a moment wraps the work in ``with phase("embedding", total=n) as advance:``
and calls ``advance(k)`` as it goes. What that shows is set by the caller for the duration of a run with
:func:`showing_phases` (the command line passes progress bars with an ETA); by default nothing is shown, so
the library, the tests and the worker processes stay quiet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

Advance = Callable[[int], None]
# description, total (None when unknown) -> a context yielding ``advance``
PhaseFactory = Callable[[str, int | None], AbstractContextManager[Advance]]


@contextmanager
def _silent(description: str, total: int | None) -> Iterator[Advance]:
    yield _no_advance


def _no_advance(n: int = 1) -> None:
    pass


_current: ContextVar[PhaseFactory] = ContextVar("curatune_phase_factory", default=_silent)


def phase(description: str, total: int | None = None) -> AbstractContextManager[Advance]:
    """A context for one phase of work: yields ``advance(n)``; shown as the caller of the run chose."""
    return _current.get()(description, total)


@contextmanager
def showing_phases(factory: PhaseFactory) -> Iterator[None]:
    """Show every :func:`phase` opened inside the block with ``factory``."""
    token = _current.set(factory)
    try:
        yield
    finally:
        _current.reset(token)
