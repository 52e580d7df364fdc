"""The dry run's store: reads fall through to the real store, writes stay in memory.

A dry run walks the same code path as a real run, so every job's state changes
(cursors, snapshots, queues, records of posts) land here and are forgotten at the end:
the real store is byte-for-byte what it was. `JobContext` puts every dry run behind
one of these, so no job needs a dry-run branch of its own for state.
"""
from __future__ import annotations

from bot.store.base import StateStore
from bot.store.memory import MemoryStore


class OverlayStore(MemoryStore):
    def __init__(self, base: StateStore):
        super().__init__()
        self._base = base
        self._deleted: set[tuple[str, str]] = set()

    def get(self, namespace, key, default=None):
        if (namespace, key) in self._deleted:
            return default
        if (namespace, key) in self._values:
            return super().get(namespace, key, default)
        return self._base.get(namespace, key, default)

    def put(self, namespace, key, value):
        self._deleted.discard((namespace, key))
        super().put(namespace, key, value)

    def delete(self, namespace, key):
        super().delete(namespace, key)
        self._deleted.add((namespace, key))

    def items(self, namespace):
        merged = {**self._base.items(namespace), **super().items(namespace)}
        return {k: v for k, v in merged.items() if (namespace, k) not in self._deleted}

    def get_post(self, key):
        return super().get_post(key) or self._base.get_post(key)

    def posts(self, kind=None):
        return self._base.posts(kind) + super().posts(kind)

    def close(self) -> None:
        self._base.close()

    def __getattr__(self, name):
        # Anything beyond the store contract (e.g. the lease table) is the real store's.
        return getattr(self._base, name)
