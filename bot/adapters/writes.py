"""The one marker for adapter methods that send a write.

A marked method runs only under the job's writer's licence (bot/jobs/writer.py), and the
writer asks the scheduler's stop/lease check before each licence. There is no list of
method names to keep (one went stale once: a DiscussionTools reply could still be posted
after SIGTERM): the mark is on the method itself.

* `@write_method` on a method that always sends a write (an edit, a comment);
* `@write_method(when="write")` on a choke point that writes only when called with
  that keyword argument true (`WikiClient.api(write=True)`, `ConduitClient.call(write=True)`).

tests/unit/test_scheduler.py reads the adapters' source and fails when a method that
sends a write (directly, or through another method) is not marked.

A marked method also refuses to send its write unless the job's writer
(bot/jobs/writer.py) issued it: the writer is where the emergency stop, `{{nobots}}`,
the edit interval, dry run and the idempotency keys are decided, and a job that called
the adapter itself would skip them all. The writer sets a context variable around the
call (`issuing()`); a write without it raises `UnissuedWrite`.
"""
from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

MARK = "__ambassador_write__"
ALWAYS = "always"


# A context variable, not a flag on the adapter: the newsletter and status jobs write
# to several wikis from worker threads, and one thread's write must not license another's.
_ISSUED: ContextVar[bool] = ContextVar("ambassador_write_issued", default=False)


class UnissuedWrite(RuntimeError):
    """A write sent past the writer (a programming error, never a wiki's or Phorge's answer)."""


@contextmanager
def issuing() -> Iterator[None]:
    """The writer's licence for the writes sent inside this block (and nothing else's)."""
    token = _ISSUED.set(True)
    try:
        yield
    finally:
        _ISSUED.reset(token)


def write_method(func: F | None = None, *, when: str | None = None):
    """Mark an adapter method as one that sends a write (see the module docstring)."""
    def mark(f: F) -> F:
        kind = when or ALWAYS
        signature = inspect.signature(f) if kind != ALWAYS else None

        @functools.wraps(f)
        def guarded(*args, **kwargs):
            if not _ISSUED.get() and _is_write(kind, signature, args, kwargs):
                raise UnissuedWrite(f"{f.__qualname__}: a write must go through the job's writer "
                                    f"(bot/jobs/writer.py)")
            return f(*args, **kwargs)
        setattr(guarded, MARK, kind)
        return guarded  # type: ignore[return-value]
    return mark(func) if func is not None else mark


def _is_write(kind: str, signature, args, kwargs) -> bool:
    if kind == ALWAYS:
        return True
    if kind in kwargs:
        return bool(kwargs[kind])
    try:
        return bool(signature.bind_partial(*args, **kwargs).arguments.get(kind))
    except TypeError:
        return False


def write_kind(owner: Any, name: str) -> str | None:
    """`ALWAYS`, the name of the keyword that makes it a write, or None for a read.

    Looked up on the class (a method replaced on an instance keeps its class's mark).
    """
    cls = owner if isinstance(owner, type) else type(owner)
    attr = getattr(cls, name, None)
    attr = getattr(attr, "fget", attr)   # a property is not a write
    return getattr(attr, MARK, None)


def write_methods(cls: type) -> dict[str, str]:
    """Every marked method of a class: name -> kind."""
    found = {}
    for name in dir(cls):
        kind = write_kind(cls, name)
        if kind is not None:
            found[name] = kind
    return found
