"""Fan-out rule for mail: which iMIP messages (and reminder plans) a change owes, per recipient.

Runs inside the command's transaction (``hub.sync.fanout.RULES``). One outbox row per message
and recipient; the object key is per reservation (or shift) and recipient, so one person's
messages about one booking leave in order (REQUEST, then a later REQUEST, then CANCEL).
Rows carry only what identifies the message: the handler renders from the current rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.booking.unit import Change, OutboxSpec
from hub.store.models import Customer, Outbox, Resource, User

MAIL = "mail"
REQUEST, CANCEL = "REQUEST", "CANCEL"
# Statuses whose reservation is a booking the customer has been invited to.
INVITED_STATUSES = ("BK", "seated")
# Changes that send a REQUEST to whoever should hold the invite.
INVITING_EVENTS = ("appointment.created", "appointment.updated")
# Changes after which the reminders of a reservation are re-planned.
PLAN_EVENTS = (
    "appointment.created",
    "appointment.updated",
    "appointment.cancelled",
    "appointment.expired",
    "appointment.status_changed",
)


def customer_party(session: Session, customer_id: str | None) -> dict[str, str] | None:
    """The customer's address and name, or None when there is no one to write to."""
    cust = session.get(Customer, customer_id) if customer_id else None
    if cust is None or not cust.email:
        return None
    name = " ".join(p for p in (cust.first_name, cust.last_name) if p)
    return {"email": cust.email, "name": name}


def staff_party(session: Session, resource_id: str) -> dict[str, str] | None:
    """A staff member's address: the resource's own e-mail, else the linked user's."""
    res = session.get(Resource, resource_id)
    if res is None:
        return None
    email = res.email
    name = res.name
    if not email:
        user = session.scalars(
            select(User).where(User.resource_id == resource_id, User.email.is_not(None))
        ).first()
        if user is None:
            return None
        email, name = user.email, user.display_name or res.name
    return {"email": email, "name": name}


def last_method(session: Session, object_key: str) -> str | None:
    """METHOD of the latest invite already owed on this stream (None if never invited)."""
    rows = session.scalars(
        select(Outbox.payload)
        .where(Outbox.target == MAIL, Outbox.object_key == object_key)
        .order_by(Outbox.id.desc())
        .limit(10)
    )
    for payload in rows:
        method = (payload or {}).get("method")
        if method:
            return str(method)
    return None


def _spec(key: str, change: Change, payload: dict[str, Any]) -> OutboxSpec:
    return OutboxSpec(target=MAIL, object_key=key, event=change.event, payload=payload)


def _reservation_rules(session: Session, change: Change, seq: int) -> list[OutboxSpec]:
    view = change.data.get("appointment") or {}
    rid = change.entity_id
    status = view.get("status")
    current = list(view.get("resourceIds") or [])
    in_refs = sorted(r.split(":", 1)[1] for r in change.refs if r.startswith("resource:"))
    removed = [r for r in in_refs if r not in current]
    cancelled = status == "CN"
    out: list[OutboxSpec] = []

    def invite(key: str, method: str, role: str, party: dict[str, str], **extra: Any) -> None:
        payload = {
            "kind": "invite",
            "method": method,
            "entity": "reservation",
            "id": rid,
            "role": role,
            "sequence": view.get("sequence", 0),
            "seq": seq,
            **party,
            **extra,
        }
        out.append(_spec(key, change, payload))

    cust = customer_party(session, view.get("customerId"))
    mailing = cancelled or (status in INVITED_STATUSES and change.event in INVITING_EVENTS)
    recipients: list[tuple[str, str, dict[str, str], dict[str, Any]]] = []
    if cust and mailing:
        recipients.append((f"reservation:{rid}:customer", "customer", cust, {}))
    for res_id in current + removed if mailing else []:
        party = staff_party(session, res_id)
        if party:
            key = f"reservation:{rid}:resource:{res_id}"
            recipients.append((key, "staff", party, {"resourceId": res_id}))

    for key, role, party, extra in recipients:
        gone = role == "staff" and extra["resourceId"] in removed
        if cancelled or gone:
            # Only someone holding the invite needs its cancellation — and a customer whose
            # hold ran out, who is told the slot is gone.
            before = last_method(session, key)
            expired = change.event == "appointment.expired" and role == "customer"
            if before == REQUEST or (expired and before != CANCEL):
                invite(key, CANCEL, role, party, **extra)
            continue
        created = change.event == "appointment.created"
        significant = change.event == "appointment.updated" and change.data.get("significant")
        # Otherwise (notes, a new staff member) only whoever does not hold the invite yet.
        if created or significant or last_method(session, key) != REQUEST:
            invite(key, REQUEST, role, party, **extra)

    if cust and change.event in PLAN_EVENTS:
        out.append(
            _spec(
                f"reservation:{rid}:reminders",
                change,
                {"kind": "plan-reminders", "id": rid, "seq": seq},
            )
        )
    return out


def _shift_rules(session: Session, change: Change, seq: int) -> list[OutboxSpec]:
    view = change.data.get("shift") or {}
    sid = change.entity_id
    out: list[OutboxSpec] = []

    def send(res_id: str | None, method: str) -> None:
        party = staff_party(session, res_id) if res_id else None
        if party is None:
            return
        key = f"shift:{sid}:resource:{res_id}"
        if method == CANCEL and last_method(session, key) != REQUEST:
            return
        payload = {
            "kind": "shift",
            "method": method,
            "entity": "shift",
            "id": sid,
            "resourceId": res_id,
            "shift": view,  # a deleted shift is rendered from this snapshot
            "seq": seq,
            **party,
        }
        out.append(_spec(key, change, payload))

    if change.event == "shift.created":
        send(view.get("resourceId"), REQUEST)
    elif change.event == "shift.updated":
        send(view.get("resourceId"), REQUEST)
    elif change.event == "shift.reassigned":
        previous = (change.data.get("previous") or {}).get("resourceId")
        if previous and previous != view.get("resourceId"):
            send(previous, CANCEL)
        send(view.get("resourceId"), REQUEST)
    elif change.event == "shift.deleted":
        send(view.get("resourceId"), CANCEL)
    return out


def _reminder_rules(session: Session, change: Change, seq: int) -> list[OutboxSpec]:
    if change.event != "reminder.due":
        return []
    rid = change.data.get("reservationId")
    cust = customer_party(session, change.data.get("customerId"))
    if not rid or cust is None:
        return []
    payload = {"kind": "reminder", "id": change.entity_id, "reservationId": rid, "seq": seq}
    return [_spec(f"reservation:{rid}:customer", change, payload | cust)]


def mail_targets(session: Session, change: Change, seq: int) -> list[OutboxSpec]:
    """Every iMIP message (and reminder re-plan) owed for ``change``; see the module docstring."""
    if change.entity == "reservation":
        return _reservation_rules(session, change, seq)
    if change.entity == "shift":
        return _shift_rules(session, change, seq)
    if change.entity == "reminder":
        return _reminder_rules(session, change, seq)
    return []


def without_mail(fanout: Any) -> Any:
    """The fan-out with mail rows dropped: used when no SMTP server is configured."""

    def filtered(session: Session, change: Change, seq: int) -> list[OutboxSpec]:
        return [spec for spec in fanout(session, change, seq) if spec.target != MAIL]

    return filtered
