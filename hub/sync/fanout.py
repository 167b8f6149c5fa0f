"""Decide, inside a command's transaction, which targets must hear of a change.

Called by the unit of work for every change; returns outbox rows to write in the same
transaction. Reads webhooks and integrations; writes nothing itself.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.booking.unit import Change, OutboxSpec
from hub.mail.targets import mail_targets
from hub.store.models import Integration, Webhook

# Entities a calendar integration mirrors.
SYNCED_ENTITIES = {"reservation", "shift"}

Rule = Callable[[Session, Change, int], list[OutboxSpec]]
# Account bookkeeping never leaves the hub, not even to "*" subscriptions.
PRIVATE_ENTITIES = {"webhook", "api_key", "app_password", "user"}


def webhook_targets(session: Session, change: Change, seq: int) -> list[OutboxSpec]:
    """One delivery per active webhook subscribed to the change's event."""
    if change.entity in PRIVATE_ENTITIES:
        return []
    out = []
    for hook in session.scalars(select(Webhook).where(Webhook.active.is_(True))):
        if change.event in (hook.events or []) or "*" in (hook.events or []):
            out.append(
                OutboxSpec(
                    target="webhook",
                    webhook_id=hook.id,
                    object_key=f"{change.entity}:{change.entity_id}",
                    event=change.event,
                    payload={"seq": seq, "event": change.event, "data": change.data},
                )
            )
    return out


def integration_targets(session: Session, change: Change, seq: int) -> list[OutboxSpec]:
    """One delivery per connected integration whose scope covers the change (never its origin)."""
    if change.entity not in SYNCED_ENTITIES:
        return []
    out = []
    for integ in session.scalars(select(Integration).where(Integration.status != "Disconnected")):
        if integ.id == change.origin_integration_id:
            continue  # loop prevention: a change that came from a provider is not sent back
        # A staff integration hears only of its staff member's items (it also records the
        # location, for its time zone); a location integration hears of the whole location.
        if integ.resource_id:
            in_scope = f"resource:{integ.resource_id}" in change.refs
        else:
            in_scope = bool(integ.location_id) and f"location:{integ.location_id}" in change.refs
        if in_scope:
            out.append(
                OutboxSpec(
                    target="integration",
                    integration_id=integ.id,
                    object_key=f"{change.entity}:{change.entity_id}",
                    event=change.event,
                    payload={
                        "seq": seq,
                        "entity": change.entity,
                        "id": change.entity_id,
                        "op": change.op,
                    },
                )
            )
    return out


# The explicit list of fan-out rules. A new kind of target adds one function here.
RULES: list[Rule] = [webhook_targets, integration_targets, mail_targets]


def fanout(session: Session, change: Change, seq: int) -> list[OutboxSpec]:
    """Every delivery owed for ``change`` under all rules."""
    out: list[OutboxSpec] = []
    for rule in RULES:
        out.extend(rule(session, change, seq))
    return out
