"""Inbound sync: pull remote changes, turn them into commands, reconcile, guard mass deletions.

* A foreign event becomes an external busy block of the integration's staff member.
* Our own event (it carries our id) that a person moved or deleted remotely becomes a reschedule
  or cancellation with ``origin`` = the integration (so it is not pushed back there); when the
  rules refuse, calhub's version is put back on the remote and the appointment is flagged.
* A remote change equal to what calhub last wrote (same etag, or same timing) is ignored.
* A pull that would delete too much at once is not mirrored: the integration goes to Error
  until someone confirms (``confirm_deletions``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.domain.errors import HubError
from hub.domain.recurrence import range_end
from hub.domain.timerange import iso_z, utcnow
from hub.providers.base import (
    AuthError,
    Capability,
    ProviderError,
    PullResult,
    RemoteEvent,
    RemoteRef,
    TransientError,
)
from hub.store.models import BusyBlock, Location, RemoteLink, Reservation, Shift
from hub.sync.mapping import (
    DELETED,
    NOT_MIRRORED,
    IntegrationInfo,
    LinkInfo,
    content_hash,
    desired_state,
    objects_in_scope,
    remote_timing,
)

if TYPE_CHECKING:
    from hub.sync.engine import SyncEngine

logger = logging.getLogger(__name__)

MIN_GUARDED = 3  # below this many known events a loss is never called "mass"
SYNCED = ("reservation", "shift")


@dataclass
class PullSummary:
    """What one pull did."""

    changes: int = 0
    busy_changed: int = 0
    moved: int = 0
    cancelled: int = 0
    put_back: int = 0
    ignored: int = 0
    duplicates_removed: int = 0
    guarded: int = 0
    repaired: int = 0
    error: str | None = None
    remote_ours: dict[str, RemoteEvent] = field(default_factory=dict)


class InboundSync:
    """Mixed into SyncEngine."""

    def _init_inbound(self: SyncEngine) -> None:
        self._pull_locks: dict[str, threading.Lock] = {}
        self._pull_again: set[str] = set()
        self._pull_guard = threading.Lock()

    # ---- triggering -------------------------------------------------------------------------

    def request_pull(self: SyncEngine, integration_id: str) -> None:
        """Pull soon in a background thread; notifications arriving meanwhile coalesce into one."""
        with self._pull_guard:
            lock = self._pull_locks.setdefault(integration_id, threading.Lock())
            if lock.locked():
                self._pull_again.add(integration_id)
                return

        def run() -> None:
            while True:
                try:
                    self.pull(integration_id)
                except Exception:  # a background pull must never die silently
                    logger.exception("pull of integration %s failed", integration_id)
                with self._pull_guard:
                    if integration_id not in self._pull_again:
                        return
                    self._pull_again.discard(integration_id)

        threading.Thread(target=run, name=f"pull-{integration_id}", daemon=True).start()

    # ---- pulling ------------------------------------------------------------------------------

    def pull(self: SyncEngine, integration_id: str, *, full: bool = False) -> PullSummary:
        """Fetch remote changes since the stored cursor (or everything) and apply them."""
        with self._pull_guard:
            lock = self._pull_locks.setdefault(integration_id, threading.Lock())
        with lock:
            info = self.integration(integration_id)
            summary = PullSummary()
            if info is None or info.status == "Disconnected":
                return summary
            if info.status == "Error" and info.cursor.get("error") in ("auth", "calendar"):
                summary.error = info.status_message
                return summary
            conn = self.connector(info)
            if not conn.capabilities & Capability.PULL:
                return summary
            cursor = {} if full else dict(info.cursor.get("pull") or {})
            started = utcnow()
            try:
                result = conn.pull(cursor)
                self._apply(info, conn, result, summary, listed_at=started)
            except AuthError as e:
                self.fail_integration(info, str(e), "auth")
                summary.error = str(e)
                return summary
            except TransientError as e:
                logger.info("pull of %s postponed: %s", info.name, e)
                summary.error = str(e)
                return summary
            except ProviderError as e:
                self.booking.set_integration_status(
                    info.id, "Error", f"reading {info.name} failed: {e}", kind="pull"
                )
                summary.error = str(e)
                return summary
            if summary.guarded:
                return summary  # the cursor stays: the same deletions come back once confirmed
            self.booking.set_integration_cursor(info.id, pull=result.cursor)
            if info.status == "Error" and info.cursor.get("error") == "pull":
                self.booking.set_integration_status(info.id, "Active", None)
            self.note_success(info.id)
            return summary

    def _known(
        self: SyncEngine, info: IntegrationInfo
    ) -> tuple[dict[str, LinkInfo], dict[str, LinkInfo], dict[str, BusyBlock], ZoneInfo]:
        with self.db.reader() as s:
            links = [
                LinkInfo.of(r)
                for r in s.scalars(select(RemoteLink).where(RemoteLink.integration_id == info.id))
            ]
            blocks = {
                b.remote_id: b
                for b in s.scalars(select(BusyBlock).where(BusyBlock.integration_id == info.id))
                if b.remote_id
            }
            for b in blocks.values():
                s.expunge(b)
            loc = s.get(Location, info.location_id) if info.location_id else None
            tz = ZoneInfo(loc.timezone) if loc else ZoneInfo("UTC")
        by_object = {f"{link.entity}:{link.entity_id}": link for link in links}
        by_remote = {link.remote_id: link for link in links}
        return by_object, by_remote, blocks, tz

    def _block(self, ev: RemoteEvent, tz: ZoneInfo) -> dict[str, Any] | None:
        if ev.start is None or ev.end is None:
            return None
        start, end = ev.start, ev.end
        if ev.all_day:  # whole days in the business's own time zone
            start = datetime(start.year, start.month, start.day, tzinfo=tz).astimezone(UTC)
            end = datetime(end.year, end.month, end.day, tzinfo=tz).astimezone(UTC)
        rule = None
        if ev.ical:
            for line in ev.ical.splitlines():
                if line.upper().startswith("RRULE:"):
                    rule = line[6:]
        last = range_end(start, end, rule, tz) if rule else end
        return {
            "remote_id": ev.remote_id,
            "summary": ev.summary,
            "start": start,
            "end": last,
            "transparent": not ev.busy,
            "recurring": bool(rule),
            "ical": ev.ical if rule else None,
            "etag": ev.etag,
            "resource_ids": list(ev.resource_ids),
        }

    def _apply(
        self: SyncEngine,
        info: IntegrationInfo,
        conn: Any,
        result: PullResult,
        summary: PullSummary,
        *,
        listed_at: datetime | None = None,
    ) -> None:
        by_object, by_remote, blocks, tz = self._known(info)
        now = utcnow()
        summary.changes = len(result.changes)
        ours: list[RemoteEvent] = []
        ups: list[dict[str, Any]] = []
        dels: list[str] = []
        seen: set[str] = set()
        for ev in result.changes:
            seen.add(ev.remote_id)
            if ev.calhub_id and ev.calhub_entity in SYNCED:
                ours.append(ev)
                if not ev.deleted:
                    link = by_object.get(f"{ev.calhub_entity}:{ev.calhub_id}")
                    if link is None or link.remote_id == ev.remote_id:
                        summary.remote_ours[f"{ev.calhub_entity}:{ev.calhub_id}"] = ev
                continue
            if ev.remote_id in by_remote:  # one of ours whose private properties were stripped
                ours.append(ev)
                continue
            if ev.deleted:
                if ev.remote_id in blocks:
                    dels.append(ev.remote_id)
            else:
                block = self._block(ev, tz)
                if block is not None:
                    ups.append(block)
        if result.full:  # what a complete listing no longer shows is gone
            win = result.window
            dels.extend(
                rid
                for rid, b in blocks.items()
                if rid not in seen
                and (win is None or (b.start >= win[0] and b.range_end <= win[1]))
            )
            if not getattr(conn, "reports_deletions", True):
                # Our own events too, where the provider has no deletion feed (Zoho).
                ours.extend(self._absent_ours(info, seen, win, listed_at or now))
        # The guard counts what matters now: current and future busy time and our live events.
        current = {rid for rid, b in blocks.items() if b.range_end >= now}
        live_links = [link for link in by_object.values() if not link.deleted]
        known = len(current) + len(live_links)
        lost = len([rid for rid in dels if rid in current]) + len(
            [
                ev
                for ev in ours
                if ev.deleted and (lk := by_remote.get(ev.remote_id)) is not None and not lk.deleted
            ]
        )
        guard = info.cursor.get("guard") or {}
        share = self.settings.mass_deletion_share
        if (
            known >= MIN_GUARDED
            and lost
            and (lost >= known or lost / known > share)
            and not guard.get("confirmed")
        ):
            summary.guarded = lost
            msg = (
                f"{info.name} lost {lost} of its {known} events in one pull; calhub did not mirror "
                "the deletions. If they are intended, confirm with POST "
                f"/api/v1/integrations/{info.id}/confirm-deletions"
            )
            self.booking.set_integration_cursor(
                info.id, guard={"count": lost, "known": known, "at": iso_z(now)}
            )
            self.booking.set_integration_status(info.id, "Error", msg, kind="mass_deletion")
            dels = []
        elif guard.get("confirmed"):
            self.booking.set_integration_cursor(info.id, guard=None)
        summary.busy_changed = self.booking.apply_remote_busy(info.id, ups, dels)
        for ev in ours:
            self._apply_ours(
                info, conn, ev, by_object, by_remote, summary, skip_deletes=bool(summary.guarded)
            )

    def _absent_ours(
        self: SyncEngine,
        info: IntegrationInfo,
        seen: set[str],
        window: tuple[datetime, datetime] | None,
        listed_at: datetime,
    ) -> list[RemoteEvent]:
        """Deletions implied by a full listing: our written events it no longer shows.

        Only links written before the listing began (a push racing the listing is not missing)
        and objects inside the listed window count.
        """
        out: list[RemoteEvent] = []
        with self.db.reader() as s:
            for model, entity in ((Reservation, "reservation"), (Shift, "shift")):
                end_col = Reservation.end if model is Reservation else Shift.range_end
                q = (
                    select(RemoteLink.remote_id, RemoteLink.entity_id, model.start, end_col)
                    .join(model, model.id == RemoteLink.entity_id)
                    .where(
                        RemoteLink.integration_id == info.id,
                        RemoteLink.entity == entity,
                        RemoteLink.content_hash.is_not(None),
                        RemoteLink.content_hash != DELETED,
                        RemoteLink.updated_at < listed_at,
                    )
                )
                if model is Reservation:  # calhub is deleting those itself (no race with it)
                    q = q.where(Reservation.status.not_in(NOT_MIRRORED))
                for remote_id, entity_id, start, end in s.execute(q):
                    if remote_id in seen:
                        continue
                    if window is not None and not (start >= window[0] and end <= window[1]):
                        continue
                    out.append(
                        RemoteEvent(
                            remote_id=remote_id,
                            deleted=True,
                            calhub_entity=entity,
                            calhub_id=entity_id,
                        )
                    )
        return out

    def _apply_ours(
        self: SyncEngine,
        info: IntegrationInfo,
        conn: Any,
        ev: RemoteEvent,
        by_object: dict[str, LinkInfo],
        by_remote: dict[str, LinkInfo],
        summary: PullSummary,
        *,
        skip_deletes: bool,
    ) -> None:
        link = (
            by_object.get(f"{ev.calhub_entity}:{ev.calhub_id}")
            if ev.calhub_id
            else by_remote.get(ev.remote_id)
        )
        if link is None:
            if ev.deleted or not ev.calhub_id:
                return
            # Ours but unlinked: a push whose answer was lost, or a copy of an object we dropped.
            with self.db.reader() as s:
                desired = desired_state(s, info, str(ev.calhub_entity), ev.calhub_id)
            if desired.event is None:
                conn.delete(RemoteRef(ev.remote_id, ev.etag))
                summary.duplicates_removed += 1
                return
            self.booking.link_remote(
                info.id,
                desired.entity,
                desired.entity_id,
                ev.remote_id,
                etag=ev.etag,
                version=0,
                content_hash="0" * 32 + remote_timing(ev),
            )
            summary.ignored += 1
            return
        if link.remote_id != ev.remote_id:
            if not ev.deleted:  # a second copy of one object on the remote: remove it
                conn.delete(RemoteRef(ev.remote_id, ev.etag))
                summary.duplicates_removed += 1
            return
        if ev.etag and ev.etag == link.etag:
            summary.ignored += 1  # the echo of calhub's own write
            return
        if ev.deleted:
            if link.deleted or skip_deletes:
                summary.ignored += 1
                return
            self._remote_deleted(info, conn, link, summary)
            return
        if link.deleted:
            conn.delete(RemoteRef(ev.remote_id, ev.etag))  # restored remotely; calhub deleted it
            return
        if ev.start is None or ev.end is None or remote_timing(ev) == link.timing:
            summary.ignored += 1  # not moved (text edits on our events are not imported)
            return
        self._remote_moved(info, conn, link, ev, summary)

    def _relink(self: SyncEngine, info: IntegrationInfo, link: LinkInfo, etag: str | None) -> None:
        with self.db.reader() as s:
            desired = desired_state(s, info, link.entity, link.entity_id, link.synced_version + 1)
        digest = content_hash(desired.event) if desired.event is not None else DELETED
        self.booking.link_remote(
            info.id,
            link.entity,
            link.entity_id,
            link.remote_id,
            etag=etag,
            version=desired.version,
            content_hash=digest,
        )

    def _put_back(
        self: SyncEngine, info: IntegrationInfo, link: LinkInfo, why: str, summary: PullSummary
    ) -> None:
        logger.warning(
            "%s: put %s %s back on %s: %s", info.name, link.entity, link.entity_id, info.name, why
        )
        self.sync_object(info, link.entity, link.entity_id, force=True)
        summary.put_back += 1
        if link.entity == "reservation":
            try:
                self.booking.flag_reservation(link.entity_id, why, origin=info.id)
            except HubError:
                logger.exception("could not flag appointment %s", link.entity_id)

    def _remote_moved(
        self: SyncEngine,
        info: IntegrationInfo,
        conn: Any,
        link: LinkInfo,
        ev: RemoteEvent,
        summary: PullSummary,
    ) -> None:
        assert ev.start is not None and ev.end is not None
        when = f"{iso_z(ev.start)}–{iso_z(ev.end)}"
        if link.entity != "reservation":
            self._put_back(
                info,
                link,
                f"{link.entity} moved in {info.name} to {when}; shifts are changed in calhub",
                summary,
            )
            return
        try:
            self.booking.reschedule(
                link.entity_id,
                {"start_time": iso_z(ev.start), "end_time": iso_z(ev.end)},
                actor=f"integration:{info.name}",
                origin=info.id,
            )
        except HubError as e:
            self._put_back(
                info,
                link,
                f"Moved in {info.name} to {when}, but calhub put it back: {e.message}",
                summary,
            )
            return
        self._relink(info, link, ev.etag)
        summary.moved += 1

    def _remote_deleted(
        self: SyncEngine, info: IntegrationInfo, conn: Any, link: LinkInfo, summary: PullSummary
    ) -> None:
        if link.entity != "reservation":
            self._put_back(
                info,
                link,
                f"{link.entity} deleted in {info.name}; shifts are changed in calhub",
                summary,
            )
            return
        try:
            self.booking.cancel(
                link.entity_id,
                {"by": "staff", "reason": f"deleted in {info.name}"},
                actor=f"integration:{info.name}",
                origin=info.id,
            )
        except HubError as e:
            self._put_back(
                info, link, f"Deleted in {info.name}, but calhub put it back: {e.message}", summary
            )
            return
        self._relink(info, link, None)
        summary.cancelled += 1

    # ---- reconciliation ---------------------------------------------------------------------

    def reconcile(self: SyncEngine, integration_id: str, *, progress: Any = None) -> PullSummary:
        """Full listing, then make the remote match calhub object by object (drift, duplicates)."""
        summary = self.pull(integration_id, full=True)
        info = self.integration(integration_id)
        if info is None or summary.error or summary.guarded or info.status != "Active":
            return summary
        with self.db.reader() as s:
            objects = objects_in_scope(s, info, utcnow() - timedelta(days=1))
            links = {
                f"{r.entity}:{r.entity_id}": LinkInfo.of(r)
                for r in s.scalars(select(RemoteLink).where(RemoteLink.integration_id == info.id))
            }
        wanted = {f"{e}:{i}" for e, i in objects}
        todo = objects + [
            (k.split(":", 1)[0], k.split(":", 1)[1])
            for k, lk in links.items()
            if k not in wanted and not lk.deleted
        ]
        bar = (
            progress(total=len(todo), desc=f"reconciling {info.name}", unit="event")
            if progress
            else None
        )
        for entity, entity_id in todo:
            key = f"{entity}:{entity_id}"
            remote = summary.remote_ours.get(key)
            link = links.get(key)
            with self.db.reader() as s:
                desired = desired_state(
                    s, info, entity, entity_id, (link.synced_version + 1) if link else 1
                )
            drift = False
            if desired.event is not None:
                drift = (
                    remote is None
                    or remote.deleted
                    or link is None
                    or link.deleted
                    or remote.remote_id != link.remote_id
                    or remote_timing(remote) != content_hash(desired.event)[32:]
                    or link.synced_version < desired.version
                )
            elif link is not None and remote is not None and not remote.deleted:
                drift = True
            if drift:
                try:
                    if self.apply_desired(info, desired, link, force=True) != "skipped":
                        summary.repaired += 1
                except TransientError as e:
                    logger.info("reconcile of %s postponed for %s: %s", info.name, key, e)
                except AuthError as e:
                    self.fail_integration(info, str(e), "auth")
                    summary.error = str(e)
                    break
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return summary

    def confirm_deletions(self: SyncEngine, integration_id: str) -> PullSummary:
        """A person confirmed a mass deletion: mirror it and return to Active."""
        info = self.integration(integration_id)
        if info is None:
            from hub.domain.errors import NotFound

            raise NotFound(f"integration {integration_id} does not exist")
        guard = dict(info.cursor.get("guard") or {})
        if info.cursor.get("error") != "mass_deletion" and not guard:
            from hub.domain.errors import Conflict

            raise Conflict(
                "there are no deletions waiting for confirmation", code="nothing_to_confirm"
            )
        self.booking.set_integration_status(info.id, "Active", None)  # clears the old question
        self.booking.set_integration_cursor(info.id, guard={**guard, "confirmed": True})
        return self.pull(info.id)

    # ---- periodic jobs ----------------------------------------------------------------------

    def poll_all(self: SyncEngine) -> None:
        """Renew push channels and pull every active integration (catches dropped notifications)."""
        for info in self.integrations():
            if info.status != "Active":
                continue
            try:
                if self.settings.base_url:
                    self.ensure_channel(info)
            except ProviderError as e:
                logger.info("channel for %s not renewed: %s", info.name, e)
            self.pull(info.id)

    def reconcile_all(self: SyncEngine) -> None:
        """Full reconciliation of every active integration."""
        for info in self.integrations():
            if info.status == "Active":
                try:
                    self.reconcile(info.id)
                except ProviderError as e:
                    logger.info("reconciliation of %s postponed: %s", info.name, e)
