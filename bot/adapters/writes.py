"""The one marker for adapter methods that send a write.

The scheduler wraps every adapter a job gets in a guard that refuses new writes once
the service is stopping or has lost its lease (bot/scheduler.py `_WriteGuard`). The
guard does not keep its own list of method names, which went stale once already (a
DiscussionTools reply could still be posted after SIGTERM): it asks the adapter's
class which of its methods carry this marker.

* `@write_method` on a method that always sends a write (an edit, a comment);
* `@write_method(when="write")` on a choke point that writes only when called with
  that keyword argument true (`WikiClient.api(write=True)`, `ConduitClient.call(write=True)`).

tests/unit/test_scheduler.py reads the adapters' source and fails when a method that
sends a write (directly, or through another method) is not marked.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

MARK = "__ambassador_write__"
ALWAYS = "always"


def write_method(func: F | None = None, *, when: str | None = None):
    """Mark an adapter method as one that sends a write (see the module docstring)."""
    def mark(f: F) -> F:
        setattr(f, MARK, when or ALWAYS)
        return f
    return mark(func) if func is not None else mark


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
