"""The store's contract, shared by the SQL store and its in-memory twin."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from bot.errors import BotError


class StoreError(BotError):
    """The state store cannot be read or written (locked, full disk, unreachable)."""


@dataclass(frozen=True)
class Post:
    """One write the bot made: an edit, a talk-page message or a task comment."""

    key: str          # idempotency key, unique
    kind: str         # "edit", "message", "task-comment", ...
    target: str       # "cs:Wikipedie:Growth/Stav", "T123", ...
    revision: str | None
    created_at: float


class StateStore(abc.ABC):
    """Keys are short strings; values are JSON-serialisable."""

    @abc.abstractmethod
    def get(self, namespace: str, key: str, default: Any = None) -> Any: ...

    @abc.abstractmethod
    def put(self, namespace: str, key: str, value: Any) -> None: ...

    @abc.abstractmethod
    def delete(self, namespace: str, key: str) -> None: ...

    @abc.abstractmethod
    def items(self, namespace: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def get_post(self, key: str) -> Post | None: ...

    @abc.abstractmethod
    def record_post(self, key: str, kind: str, target: str, revision: str | None = None) -> Post:
        """Record a post. Recording the same key again keeps the first record and returns it."""

    @abc.abstractmethod
    def posts(self, kind: str | None = None) -> list[Post]: ...

    def has_post(self, key: str) -> bool:
        return self.get_post(key) is not None

    def close(self) -> None:
        pass
