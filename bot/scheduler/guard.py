"""`Stopping`: what the writer raises for a write asked for after SIGTERM or a lost lease."""
from __future__ import annotations

from bot.errors import TransientError


class Stopping(TransientError):
    """The service is stopping (SIGTERM) or lost its lease: no new write may start."""
