"""Signed accept/decline links carried by every invite, for people whose app sends no REPLY.

A link names the reservation and the action; its signature covers the reservation id, the
action, the invite's SEQUENCE and the expiry, so a link from an older invite (before a
reschedule) or with any part changed does nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

from hub.crypto import SecretBox

ACTIONS = ("accept", "decline")


def _message(reservation_id: str, action: str, sequence: int, expires: int) -> str:
    return f"invite:{reservation_id}:{action}:{sequence}:{expires}"


def sign_link(box: SecretBox, reservation_id: str, action: str, sequence: int, expires: int) -> str:
    """The signature for one link."""
    return box.sign(_message(reservation_id, action, sequence, expires))


def invite_link(
    box: SecretBox, base_url: str, reservation_id: str, action: str, sequence: int, expires: int
) -> str:
    """The absolute URL of an accept or decline link."""
    sig = sign_link(box, reservation_id, action, sequence, expires)
    query = urlencode({"sig": sig, "exp": str(expires)})
    return f"{base_url.rstrip('/')}/invites/{reservation_id}/{action}?{query}"


def check_link(
    box: SecretBox,
    reservation_id: str,
    action: str,
    sequence: int,
    expires: int,
    sig: str,
) -> str | None:
    """None when the link is valid for the current SEQUENCE; otherwise the reason it is not."""
    if action not in ACTIONS:
        return f"unknown action {action!r}"
    if box.verify(_message(reservation_id, action, sequence, expires), sig):
        return None
    # Tell an outdated link (a later invite replaced it) apart from a forged one.
    for older in range(max(0, sequence - 20), sequence):
        if box.verify(_message(reservation_id, action, older, expires), sig):
            return "the link belongs to an older version of this invitation"
    return "bad signature"
