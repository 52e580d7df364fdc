"""A leader lease in the state database, so that only one of several replicas posts.

One row per lease name: `holder` and `expires_at`. Taking or renewing it is one
conditional UPDATE (`... WHERE holder = me OR expires_at < now`), which PostgreSQL,
MariaDB (InnoDB) and SQLite each apply atomically to the row, so two replicas can
never both see their update succeed. `now` is the database server's clock, so the
replicas' own clocks may disagree without two of them holding the lease.

The holder renews every `seconds / 5`; when it dies, its row expires after at most
`seconds` and the next standby that polls takes it over. The holder itself trusts its
lease only until `seconds` after the moment it *sent* its last successful renewal, by
its monotonic clock: that ends no later than the database's expiry, so a holder that
cannot reach the database stops writing before anyone else may start.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.store.base import StoreError

log = logging.getLogger(__name__)
metadata = sa.MetaData()

lease_table = sa.Table(
    "ambassador_leader_lease", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=True),
    sa.Column("expires_at", sa.Double(), nullable=False),  # MySQL FLOAT is 4 bytes: ~2 min steps
)


def default_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """`acquire()` takes or renews the lease; `held()` says whether it is still ours."""

    def __init__(self, url: str, name: str = "scheduler", *, seconds: float = 60.0, holder: str | None = None,
                 engine: sa.engine.Engine | None = None):
        self.name = name
        self.seconds = float(seconds)
        self.holder = holder or default_holder_id()
        self._valid_until = 0.0          # monotonic
        self._lock = threading.Lock()
        label = sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url
        self._label = label
        try:
            connect_args = {"timeout": 10} if url.startswith("sqlite") else {}
            self.engine = engine or sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
            self._create_table()
            self._ensure_row()
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"lease table in {label}: cannot open: {_short(exc)}") from None

    @property
    def renew_interval(self) -> float:
        return self.seconds / 5

    def _create_table(self) -> None:
        try:
            metadata.create_all(self.engine)
        except SQLAlchemyError:
            # Replicas starting together on a fresh database race to create it.
            if not sa.inspect(self.engine).has_table(lease_table.name):
                raise

    def _ensure_row(self) -> None:
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(lease_table.c.name).where(lease_table.c.name == self.name)).first() is None:
                    conn.execute(lease_table.insert().values(name=self.name, holder=None, expires_at=0.0))
        except IntegrityError:
            pass  # another replica created it at the same moment

    def _db_now(self, conn) -> float:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return float(conn.execute(sa.text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar())
        if dialect in ("mysql", "mariadb"):
            return float(conn.execute(sa.text("SELECT UNIX_TIMESTAMP(NOW(6))")).scalar())
        if dialect == "sqlite":
            return float(conn.execute(sa.text("SELECT (julianday('now') - 2440587.5) * 86400.0")).scalar())
        return time.time()

    def acquire(self) -> bool:
        """Take the lease if it is free or expired, renew it if it is ours. True when held."""
        with self._lock:
            sent = time.monotonic()
            try:
                with self.engine.begin() as conn:
                    now = self._db_now(conn)
                    result = conn.execute(lease_table.update().where(
                        lease_table.c.name == self.name,
                        sa.or_(lease_table.c.holder == self.holder, lease_table.c.expires_at < now),
                    ).values(holder=self.holder, expires_at=now + self.seconds))
                    won = result.rowcount == 1
            except SQLAlchemyError as exc:
                log.warning("lease %s: cannot renew (%s); holding it only until it runs out", self.name, _short(exc))
                return self.held()
            if won:
                self._valid_until = sent + self.seconds
            else:
                self._valid_until = 0.0
            return won

    def held(self) -> bool:
        return time.monotonic() < self._valid_until

    def current(self) -> tuple[str | None, float]:
        """(holder, seconds until its lease runs out) as the database sees it now."""
        with self.engine.begin() as conn:
            now = self._db_now(conn)
            row = conn.execute(sa.select(lease_table.c.holder, lease_table.c.expires_at)
                               .where(lease_table.c.name == self.name)).first()
        if row is None or row.holder is None or row.expires_at < now:
            return None, 0.0
        return row.holder, row.expires_at - now

    def release(self) -> None:
        """Give the lease up at once (clean shutdown), so a standby need not wait for expiry."""
        with self._lock:
            self._valid_until = 0.0
            try:
                with self.engine.begin() as conn:
                    conn.execute(lease_table.update().where(lease_table.c.name == self.name,
                                                            lease_table.c.holder == self.holder)
                                 .values(holder=None, expires_at=0.0))
            except SQLAlchemyError as exc:
                log.warning("lease %s: cannot release (%s); it runs out by itself", self.name, _short(exc))

    def close(self) -> None:
        self.engine.dispose()


class LocalLease:
    """For a `memory://` store: one process, nobody to share with."""

    seconds = 60.0
    renew_interval = 12.0
    holder = "local"

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def current(self):
        return self.holder, self.seconds

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


def open_lease(url: str, name: str = "scheduler", *, seconds: float = 60.0, holder: str | None = None):
    if url.startswith("memory://"):
        return LocalLease()
    return Lease(url, name, seconds=seconds, holder=holder)


def _short(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
