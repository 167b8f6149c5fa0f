"""Incoming iMIP: the SMTP/LMTP endpoint ``calhub serve`` runs, and the shared message processing.

A mail client answers an invitation by mailing a METHOD:REPLY to the ORGANIZER (the location's
address; route that address to this endpoint, or let calhub poll its mailbox over IMAP). The
calendar may be an inline ``text/calendar`` part (Thunderbird, Outlook, Gmail) or an ``.ics``
attachment (Apple Mail). Each answer is matched by UID and attendee against the booking's
customer and applied through a booking command; anything that does not match changes nothing
and is logged with the reason. The endpoint accepts every message (250) once processed, so a
forged reply never causes a bounce to a third party; it answers 451 only when processing failed
and the sending server should try again.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from typing import Any

from hub.booking.replies import ReplyRejected
from hub.ical.itip import NotAReply, Reply, parse_reply
from hub.services import Services
from hub.sync.worker import PeriodicJob

logger = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 2_000_000
CALENDAR_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar")


@dataclass
class InboundOutcome:
    """What one message did: replies applied and reasons for everything refused."""

    applied: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def calendar_parts(msg: Message) -> list[str]:
    """Every iCalendar body in a message: inline parts and ``.ics`` attachments alike."""
    out: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        name = (part.get_filename() or part.get_param("name") or "").lower()
        if ctype not in CALENDAR_TYPES and not str(name).endswith(".ics"):
            continue
        raw = part.get_payload(decode=True)
        if not raw:
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = raw.decode(charset, errors="replace")
        except LookupError:
            text = raw.decode("utf-8", errors="replace")
        if "BEGIN:VCALENDAR" in text.upper():
            out.append(text)
    return out


def sender_address(msg: Message) -> str | None:
    """The From address, lower-cased."""
    found = getaddresses([str(msg.get("From", ""))])
    return found[0][1].strip().lower() if found and found[0][1] else None


def process_message(services: Services, raw: bytes) -> InboundOutcome:
    """Apply every iMIP REPLY in one raw message; see the module docstring."""
    outcome = InboundOutcome()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    msg_id = str(msg.get("Message-ID", "")).strip() or "(no Message-ID)"
    sender = sender_address(msg)
    replies: dict[tuple[str, str, str], Reply] = {}
    for text in calendar_parts(msg):
        try:
            for reply in parse_reply(text):
                replies.setdefault((reply.uid, reply.attendee, reply.partstat), reply)
        except NotAReply as e:
            outcome.rejected.append(str(e))
    if not replies and not outcome.rejected:
        outcome.rejected.append("the message carries no iCalendar data")
    for reply in replies.values():
        if sender and sender != reply.attendee:
            outcome.rejected.append(
                f"sender {sender} is not the attendee {reply.attendee} the reply speaks for"
            )
            continue
        try:
            result = services.booking.apply_invite_reply(
                reply.uid,
                reply.attendee,
                reply.partstat,
                sequence=reply.sequence,
                via="imip",
            )
        except ReplyRejected as e:
            outcome.rejected.append(e.message if hasattr(e, "message") else str(e))
            continue
        outcome.applied.append(result)
        logger.info(
            "iMIP reply %s from %s for %s: %s → %s",
            msg_id,
            reply.attendee,
            reply.uid,
            reply.partstat,
            result["outcome"],
        )
    for reason in outcome.rejected:
        logger.warning("iMIP message %s from %s changed nothing: %s", msg_id, sender, reason)
    return outcome


class _SmtpHandler:
    """aiosmtpd handler: process each message off the event loop, then answer."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="replace")
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(None, process_message, self.services, raw)
        except Exception:
            logger.exception("inbound message could not be processed; asking the sender to retry")
            return "451 4.3.0 calhub could not process the message now; try again later"
        if outcome.applied:
            return f"250 2.0.0 OK: {len(outcome.applied)} reply(ies) applied"
        return "250 2.0.0 OK: accepted, nothing to apply"


class InboundServer:
    """The SMTP (or LMTP) endpoint on ``settings.lmtp_port``; started and stopped by ``serve``."""

    def __init__(self, services: Services, host: str | None = None, port: int | None = None):
        self.services = services
        self.host = host or services.settings.host
        self.port = port if port is not None else services.settings.lmtp_port
        self.controller: Any = None

    def start(self) -> None:
        """Listen in a background thread."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.lmtp import LMTP

        lmtp = self.services.settings.inbound_protocol == "lmtp"

        class _Controller(Controller):
            def factory(self) -> Any:
                if lmtp:
                    return LMTP(self.handler, **self.SMTP_kwargs)
                return super().factory()

        self.controller = _Controller(
            _SmtpHandler(self.services),
            hostname=self.host,
            port=self.port,
            data_size_limit=MAX_MESSAGE_BYTES,
            ready_timeout=10.0,
        )
        self.controller.start()
        logger.info(
            "inbound iMIP endpoint (%s) on %s:%d", "LMTP" if lmtp else "SMTP", self.host, self.port
        )

    def stop(self) -> None:
        """Stop listening."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def start_inbound(services: Services) -> InboundServer | None:
    """Start the endpoint when ``lmtp_port`` is set; None when it is disabled."""
    if services.settings.lmtp_port <= 0:
        return None
    server = InboundServer(services)
    try:
        server.start()
    except OSError as e:
        from hub.config import ConfigError

        raise ConfigError(
            f"cannot listen for inbound mail on {server.host}:{server.port} (lmtp_port): {e}"
        ) from e
    return server


def imap_jobs(services: Services) -> list[PeriodicJob]:
    """The IMAP polling job, when a mailbox is configured."""
    imap = services.settings.imap
    if not imap.host:
        return []
    from hub.mail.imap import ImapPoller

    poller = ImapPoller(services)
    return [PeriodicJob("imap-replies", imap.interval_seconds, poller.poll)]
