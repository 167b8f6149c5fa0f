"""``calhub sync status`` and ``calhub sync resync INTEGRATION``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hub.config import Settings
from hub.domain.errors import NotFound


def _fmt(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def cmd_sync_status(
    services_factory: Callable[..., Any], settings: Settings, args: argparse.Namespace
) -> int:
    """Print a table of integrations with status, last success/error and queue counts."""
    from hub.sync.engine import SyncEngine
    from hub.sync.outbox import counts_by_integration

    services = services_factory(settings)
    engine = SyncEngine(services)
    counts = counts_by_integration(services.db)
    from hub.store.models import Integration

    with services.db.reader() as s:
        rows = list(s.query(Integration).order_by(Integration.created_at))
        table = [
            (
                i.id,
                i.provider,
                i.name,
                i.status,
                _fmt(i.last_success_at),
                _fmt(i.last_error_at),
                str(counts.get(i.id, {}).get("pending", 0)),
                str(counts.get(i.id, {}).get("dead", 0)),
                i.status_message or "",
            )
            for i in rows
        ]
    del engine
    head = (
        "ID",
        "PROVIDER",
        "NAME",
        "STATUS",
        "LAST SUCCESS",
        "LAST ERROR",
        "PENDING",
        "DEAD",
        "MESSAGE",
    )
    if not table:
        print("no integrations yet (create one with POST /api/v1/integrations)")
        services.close()
        return 0
    widths = [max(len(r[c]) for r in [head, *table]) for c in range(len(head) - 1)]
    for r in [head, *table]:
        print("  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1])
    services.close()
    return 0


def cmd_sync_resync(
    services_factory: Callable[..., Any], settings: Settings, args: argparse.Namespace
) -> int:
    """Full reconciliation of one integration (by id or name) with a progress bar."""
    from tqdm import tqdm

    from hub.store.models import Integration
    from hub.sync.engine import SyncEngine

    services = services_factory(settings)
    engine = SyncEngine(services)
    with services.db.reader() as s:
        match = (
            s.get(Integration, args.integration)
            or s.query(Integration).filter(Integration.name == args.integration).first()
        )
        if match is None:
            raise NotFound(
                f"no integration with id or name {args.integration!r} (see `calhub sync status`)"
            )
        integration_id, name = match.id, match.name
    summary = engine.reconcile(integration_id, progress=tqdm)
    info = engine.integration(integration_id)
    print(
        f"{name}: {summary.changes} remote events read, {summary.repaired} repaired, "
        f"{summary.duplicates_removed} duplicates removed, {summary.busy_changed} busy blocks changed, "
        f"{summary.moved} moved, {summary.cancelled} cancelled, {summary.put_back} put back"
    )
    status = info.status if info else "deleted"
    print(
        f"status: {status}" + (f" — {info.status_message}" if info and info.status_message else "")
    )
    services.close()
    return 0 if not summary.error and status != "Error" else 1


def add_sync_commands(sub: Any, services_factory: Callable[..., Any]) -> None:
    """Register ``calhub sync …`` on the top-level subparsers."""
    sync = sub.add_parser(
        "sync", help="provider sync: status and full reconciliation"
    ).add_subparsers(dest="sync_cmd", required=True)
    sync.add_parser("status", help="integrations, their status and delivery queues").set_defaults(
        func=lambda settings, args: cmd_sync_status(services_factory, settings, args)
    )
    rs = sync.add_parser(
        "resync", help="full reconciliation of one integration (repairs drift, removes duplicates)"
    )
    rs.add_argument("integration", help="integration id or name")
    rs.set_defaults(func=lambda settings, args: cmd_sync_resync(services_factory, settings, args))
