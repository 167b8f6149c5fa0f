"""Signed accept/decline links from invite e-mails: ``/invites/<reservation id>/<accept|decline>``.

GET only shows what the link would do, with a button; the answer is applied by the POST that
button sends. Mail scanners and link previews follow GET links, so a GET never changes a
booking. A bad, outdated or expired signature changes nothing and is logged with the reason.
"""

from __future__ import annotations

import html
import logging
import time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request

from hub.booking.replies import ReplyRejected
from hub.mail.links import ACTIONS, check_link
from hub.services import Services

logger = logging.getLogger(__name__)
PARTSTAT = {"accept": "ACCEPTED", "decline": "DECLINED"}


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    resp = Response(text, status=status, content_type="text/html; charset=utf-8")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _when(state: dict[str, Any]) -> str:
    tz = ZoneInfo(state["timezone"])
    s, e = state["start"].astimezone(tz), state["end"].astimezone(tz)
    return f"{s:%A} {s.day} {s:%B %Y}, {s:%H:%M}–{e:%H:%M} ({state['timezone']})"


def invites_blueprint(services: Services) -> Blueprint:
    """The link pages, bound to ``services``."""
    bp = Blueprint("invites", __name__)
    booking, box = services.booking, services.secrets

    def verify(rid: str, action: str, sig: str, exp: str) -> tuple[dict[str, Any] | None, str]:
        state = booking.invite_state(rid)
        reason = ""
        if action not in ACTIONS:
            reason = f"unknown action {action!r}"
        elif state is None:
            reason = "no such reservation"
        elif not exp.isdigit():
            reason = "malformed expiry"
        else:
            reason = check_link(box, rid, action, state["sequence"], int(exp), sig) or ""
            if not reason and int(exp) < time.time():
                reason = "the link has expired"
            if not reason and state["status"] == "CN":
                reason = "the booking is cancelled"
        if reason:
            logger.warning(
                "invite link %s/%s from %s refused: %s", rid, action, request.remote_addr, reason
            )
            return None, reason
        return state, ""

    def refused(reason: str) -> Response:
        return _page(
            "This link cannot be used",
            f"<p>Nothing was changed: {html.escape(reason)}.</p>"
            "<p>Use the link in the latest e-mail about your booking, or contact the venue.</p>",
            403,
        )

    @bp.get("/invites/<rid>/<action>")
    def show(rid: str, action: str) -> Response:
        sig, exp = request.args.get("sig", ""), request.args.get("exp", "")
        state, reason = verify(rid, action, sig, exp)
        if state is None:
            return refused(reason)
        verb = "accept" if action == "accept" else "decline"
        form = (
            f'<form method="post" action="{html.escape(request.path)}">'
            f'<input type="hidden" name="sig" value="{html.escape(sig)}">'
            f'<input type="hidden" name="exp" value="{html.escape(exp)}">'
            f'<button type="submit" style="font-size:1.2em">Yes, {verb}</button></form>'
        )
        return _page(
            f"{verb.capitalize()} your booking?",
            f"<p>{html.escape(state['location'])}<br><strong>{html.escape(_when(state))}</strong></p>"
            + form,
        )

    @bp.post("/invites/<rid>/<action>")
    def answer(rid: str, action: str) -> Response:
        sig, exp = request.form.get("sig", ""), request.form.get("exp", "")
        state, reason = verify(rid, action, sig, exp)
        if state is None:
            return refused(reason)
        try:
            result = booking.apply_invite_reply(
                state["uid"],
                state["customerEmail"] or "",
                PARTSTAT[action],
                sequence=state["sequence"],
                via="link",
            )
        except ReplyRejected as e:
            logger.warning("invite link %s/%s refused: %s", rid, action, e)
            return refused(str(e))
        done = {
            "accepted": "Thank you — your booking is confirmed.",
            "cancelled": "Your booking is cancelled. We hope to see you another time.",
            "flagged": "Thank you — we have let the team know you cannot come.",
        }.get(result["outcome"], "Thank you — your answer was recorded.")
        return _page("Answer recorded", f"<p>{html.escape(done)}</p>")

    return bp
