"""The stop/lease guard: every write method of the adapters a scheduled job is given asks first."""
from __future__ import annotations

import inspect

from bot.errors import TransientError


class Stopping(TransientError):
    """The service is stopping (SIGTERM) or lost its lease: no new write may start."""



def _adapter_writes() -> dict[str, str]:
    """Every write method the real adapters mark (bot/adapters/writes.py): name -> kind."""
    from bot.adapters.phab import ConduitClient
    from bot.adapters.wiki import WikiClient
    from bot.adapters.writes import write_methods

    return {**write_methods(WikiClient), **write_methods(ConduitClient)}


class _WriteGuard:
    """Passes everything through to an adapter, but asks `check()` before each write.

    Which methods write is not a list kept here: it is every method the adapters mark
    with `@write_method` (bot/adapters/writes.py), on the adapter's own class and, for
    doubles in tests, on the real adapter classes by name. A method marked
    `when="write"` is checked when that argument is true, by keyword or by position.

    The write in flight when a stop is requested finishes (it is already inside the
    adapter); the next one raises `Stopping`.
    """

    _WRITES: dict[str, str] | None = None

    def __init__(self, target, check):
        self._target = target
        self._check = check

    @classmethod
    def writes(cls) -> dict[str, str]:
        if cls._WRITES is None:
            cls._WRITES = _adapter_writes()
        return cls._WRITES

    def __getattr__(self, name):
        from bot.adapters.writes import ALWAYS, write_kind

        value = getattr(self._target, name)
        kind = write_kind(self._target, name) or self.writes().get(name)
        if kind is None or not callable(value):
            return value
        if kind == ALWAYS:
            def guarded(*args, **kwargs):
                self._check()
                return value(*args, **kwargs)
            return guarded
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):
            signature = None

        def maybe_guarded(*args, **kwargs):
            if kwargs.get(kind) or (args and signature is not None and _bound(signature, args, kwargs).get(kind)):
                self._check()
            return value(*args, **kwargs)
        return maybe_guarded

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # state such as `blocked` belongs to the adapter, shared by every run
            setattr(self._target, name, value)


def _bound(signature, args, kwargs) -> dict:
    try:
        return signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return {}
