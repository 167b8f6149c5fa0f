"""External busy time for a resource (a provider's or a personal calendar's event).

Minimal commands so availability with ``syncExternal=true`` has something to respect; the CalDAV
and sync sides may grow richer ones (recurring iCalendar, hrefs) on the same table.
"""

from __future__ import annotations

from typing import Any

from hub.booking.base import CommandBase, reject_unknown, require_bool, require_str
from hub.booking.unit import Change
from hub.domain.errors import Invalid
from hub.domain.timerange import TimeRange, iso_z, parse_instant
from hub.store.models import BusyBlock, Integration, Resource
from hub.store.types import new_id

BUSY_FIELDS = {
    "resourceId",
    "start",
    "end",
    "summary",
    "uid",
    "transparent",
    "integrationId",
    "remoteId",
}


def busy_block_view(b: BusyBlock) -> dict[str, Any]:
    """A busy block as the API shows it (no details beyond what blocks availability)."""
    return {
        "id": b.id,
        "resourceId": b.resource_id,
        "start": iso_z(b.start),
        "end": iso_z(b.range_end),
        "summary": b.summary,
        "uid": b.uid,
        "transparent": b.transparent,
        "integrationId": b.integration_id,
        "remoteId": b.remote_id,
        "version": b.version,
    }


class BusyBlockCommands(CommandBase):
    """Add and remove external busy blocks."""

    def add_busy_block(
        self, data: dict[str, Any], *, actor: str = "api", origin: str | None = None
    ) -> dict[str, Any]:
        """Record that a resource is busy elsewhere from ``start`` to ``end``."""
        if not isinstance(data, dict):
            raise Invalid("a busy block must be a JSON object")
        reject_unknown(data, BUSY_FIELDS, "a busy block")
        rng = TimeRange(
            parse_instant(data.get("start"), "start"), parse_instant(data.get("end"), "end")
        )
        summary = require_str(data, "summary", max_len=300, optional=True)
        transparent = require_bool(data, "transparent")
        with self.uow(actor, origin) as uow:
            res = self.get(uow.session, Resource, data.get("resourceId"))
            integration_id = data.get("integrationId")
            if integration_id is not None:
                self.get(uow.session, Integration, integration_id)
            bid = new_id()
            b = BusyBlock(
                id=bid,
                resource_id=res.id,
                integration_id=integration_id,
                remote_id=require_str(data, "remoteId", max_len=1024, optional=True),
                uid=require_str(data, "uid", max_len=512, optional=True) or f"{bid}@calhub",
                summary=summary,
                start=rng.start,
                range_end=rng.end,
                recurring=False,
                transparent=transparent,
                etag=bid,
                version=1,
                created_at=uow.now,
                updated_at=uow.now,
            )
            uow.session.add(b)
            uow.session.flush()
            view = busy_block_view(b)
            uow.record(
                Change(
                    entity="busy_block",
                    entity_id=b.id,
                    op="create",
                    event="busy.created",
                    refs={f"resource:{res.id}", f"location:{res.location_id}"},
                    data={"busy_block": view},
                )
            )
            return view

    def delete_busy_block(
        self, block_id: str, *, actor: str = "api", origin: str | None = None
    ) -> None:
        """Forget a busy block (the resource is free again then, unless booked)."""
        with self.uow(actor, origin) as uow:
            b = self.get(uow.session, BusyBlock, block_id, lock=True)
            view = busy_block_view(b)
            refs = {f"resource:{b.resource_id}"} if b.resource_id else set()
            uow.session.delete(b)
            uow.record(
                Change(
                    entity="busy_block",
                    entity_id=block_id,
                    op="delete",
                    event="busy.deleted",
                    version=view["version"] + 1,
                    refs=refs,
                    data={"busy_block": view},
                )
            )
