"""SQLite writers of one process take turns without leaking the turn on any exit path."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.store.db import Database


def test_write_turn_is_released_on_every_exit_path(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.write_engine.begin() as c:
        c.execute(text("CREATE TABLE t (x INTEGER)"))
    s = db.write_session()  # closed without commit: rolled back
    s.execute(text("INSERT INTO t VALUES (1)"))
    s.close()
    with pytest.raises(RuntimeError), db.write_engine.begin() as c:
        c.execute(text("INSERT INTO t VALUES (2)"))
        raise RuntimeError("a command failed")
    conn = db.write_engine.connect()  # a connection that dies mid-transaction
    conn.begin()
    conn.execute(text("INSERT INTO t VALUES (3)"))
    conn.invalidate()
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - SQLAlchemy may insist on a rollback first
        pass
    written: list[int] = []

    def writer(n: int) -> None:
        with db.write_engine.begin() as c:
            c.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        written.append(n)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(10, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(written) == list(range(10, 30))
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar() == 20
    db.dispose()
