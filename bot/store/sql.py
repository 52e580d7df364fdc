"""The state store on SQLAlchemy: an SQLite file by default, PostgreSQL or MariaDB by URL."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.store.base import Post, StateStore, StoreError

log = logging.getLogger(__name__)
metadata = sa.MetaData()
# Times are epoch seconds as sa.Double: MariaDB's FLOAT has 4 bytes, about two minutes of resolution today.

values_table = sa.Table(
    "ambassador_values", metadata,
    sa.Column("namespace", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text().with_variant(mysql.LONGTEXT(), "mysql"), nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

posts_table = sa.Table(
    "ambassador_posts", metadata,
    sa.Column("idempotency_key", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("revision", sa.String(64)),
    sa.Column("created_at", sa.Double, nullable=False),
)


class SqlStore(StateStore):
    def __init__(self, url: str):
        self.url = url
        safe_url = sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url
        self._label = safe_url
        try:
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            connect_args = {"timeout": 10} if url.startswith("sqlite") else {}
            self.engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
            metadata.create_all(self.engine)
        except (SQLAlchemyError, OSError, ImportError, ValueError) as exc:
            raise StoreError(f"state store {safe_url}: cannot open: {_short(exc)}") from None

    def _run(self, what: str, fn):
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"state store {self._label}: cannot {what}: {_short(exc)}") from None

    def get(self, namespace, key, default=None):
        row = self._run("read", lambda c: c.execute(
            sa.select(values_table.c.value).where(values_table.c.namespace == namespace, values_table.c.name == key)
        ).first())
        return default if row is None else json.loads(row[0])

    def put(self, namespace, key, value):
        raw = json.dumps(value, sort_keys=True)

        def upsert(conn):
            updated = conn.execute(values_table.update().where(
                values_table.c.namespace == namespace, values_table.c.name == key
            ).values(value=raw, updated_at=time.time()))
            if updated.rowcount == 0:
                conn.execute(values_table.insert().values(namespace=namespace, name=key, value=raw, updated_at=time.time()))
        self._run("write", upsert)

    def delete(self, namespace, key):
        self._run("write", lambda c: c.execute(values_table.delete().where(
            values_table.c.namespace == namespace, values_table.c.name == key)))

    def items(self, namespace) -> dict[str, Any]:
        rows = self._run("read", lambda c: c.execute(
            sa.select(values_table.c.name, values_table.c.value).where(values_table.c.namespace == namespace)
            .order_by(values_table.c.name)).all())
        return {name: json.loads(value) for name, value in rows}

    def get_post(self, key):
        row = self._run("read", lambda c: c.execute(
            sa.select(posts_table).where(posts_table.c.idempotency_key == key)).first())
        return None if row is None else Post(row.idempotency_key, row.kind, row.target, row.revision, row.created_at)

    def record_post(self, key, kind, target, revision=None):
        try:
            self._run("record a post", lambda c: c.execute(posts_table.insert().values(
                idempotency_key=key, kind=kind, target=target[:512],
                revision=None if revision is None else str(revision), created_at=time.time())))
        except IntegrityError:
            pass  # recorded before: the first record stands
        return self.get_post(key)

    def posts(self, kind=None):
        query = sa.select(posts_table).order_by(posts_table.c.created_at, posts_table.c.idempotency_key)
        if kind is not None:
            query = query.where(posts_table.c.kind == kind)
        rows = self._run("read", lambda c: c.execute(query).all())
        return [Post(r.idempotency_key, r.kind, r.target, r.revision, r.created_at) for r in rows]

    def close(self):
        self.engine.dispose()


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return text[:300]
