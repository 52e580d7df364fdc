"""In-memory twin of the SQL store, for unit tests and dry runs."""
from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

from bot.store.base import Post, StateStore


class MemoryStore(StateStore):
    def __init__(self):
        self._values: dict[tuple[str, str], str] = {}
        self._posts: dict[str, Post] = {}
        self._lock = threading.Lock()

    def get(self, namespace, key, default=None):
        raw = self._values.get((namespace, key))
        return copy.deepcopy(default) if raw is None else json.loads(raw)

    def put(self, namespace, key, value):
        # Serialise like the SQL store so both accept and return the same values.
        self._values[(namespace, key)] = json.dumps(value, sort_keys=True)

    def delete(self, namespace, key):
        self._values.pop((namespace, key), None)

    def items(self, namespace) -> dict[str, Any]:
        return {k: json.loads(v) for (ns, k), v in sorted(self._values.items()) if ns == namespace}

    def get_post(self, key):
        return self._posts.get(key)

    def record_post(self, key, kind, target, revision=None):
        with self._lock:
            if key not in self._posts:
                self._posts[key] = Post(key, kind, target, None if revision is None else str(revision), time.time())
            return self._posts[key]

    def posts(self, kind=None):
        return sorted((p for p in self._posts.values() if kind is None or p.kind == kind), key=lambda p: (p.created_at, p.key))
