"""The state store: cursors, snapshots and a record of every post, behind one interface."""
from bot.store.base import Post, StateStore, StoreError
from bot.store.memory import MemoryStore
from bot.store.overlay import OverlayStore
from bot.store.sql import SqlStore


def open_store(url: str) -> StateStore:
    """`memory://` for tests and dry runs, otherwise an SQLAlchemy URL."""
    if url.startswith("memory://"):
        return MemoryStore()
    return SqlStore(url)


__all__ = ["Post", "StateStore", "StoreError", "MemoryStore", "OverlayStore", "SqlStore", "open_store"]
