"""Engine and session factories.

SQLite: WAL mode and a busy timeout so several threads and processes share the file, and a
separate *write* engine whose transactions start with ``BEGIN IMMEDIATE``: the write lock is
taken before the first read, so a command's rule check and its insert see the same state.
PostgreSQL: one engine; commands serialise on resource rows with ``SELECT … FOR UPDATE``.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    if not immediate:

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine

    # Writers of this process queue on a Python lock before asking SQLite for the write lock:
    # SQLite's busy handler sleeps in growing steps (1, 2, 5 … 100 ms) while it waits, so threads
    # contending through it alone lose most of their time asleep. Other processes still meet
    # at SQLite's lock (busy_timeout).
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin_immediate(conn: Any) -> None:
        if not writer.acquire(timeout=60):
            raise sqlite3.OperationalError("database is locked: no write turn within 60 s")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        conn.info["calhub_writer"] = True

    def _release(conn: Any) -> None:
        try:
            info = conn.info
        except Exception:  # noqa: BLE001 - invalidated: the pool's invalidate event released it
            return
        if info.pop("calhub_writer", False):
            writer.release()

    def _release_record(_dbapi_conn: Any, record: Any, *_: Any) -> None:
        # Belt and braces: a connection that goes back to the pool or is invalidated without a
        # commit/rollback event must not keep this process's write turn.
        if record is not None and record.info.pop("calhub_writer", False):
            writer.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    event.listen(engine, "checkin", _release_record)
    event.listen(engine, "invalidate", _release_record)
    return engine


class Database:
    """The engines and session factories for one database URL."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=False)
            self.write_engine = _sqlite_engine(url, immediate=True)
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True
            )
            self.write_engine = self.engine
        self.read_session = sessionmaker(self.engine, expire_on_commit=False)
        self.write_session = sessionmaker(self.write_engine, expire_on_commit=False)

    def reader(self) -> Session:
        """A session for queries; never used to write."""
        return self.read_session()

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or after fork)."""
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
