"""Poll an IMAP mailbox for iMIP replies (the alternative to running the SMTP/LMTP endpoint).

Each run fetches unseen messages (``BODY.PEEK[]`` so a failed run leaves them unseen), applies
them with the same processing as the endpoint, then flags them ``\\Seen``. A message whose
processing fails stays unseen and is tried again next run; replies are idempotent.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
from collections.abc import Callable

from hub.mail.inbound import process_message
from hub.services import Services

logger = logging.getLogger(__name__)
MAX_PER_RUN = 200


class ImapPoller:
    """One configured mailbox; ``poll`` is the worker's periodic job."""

    def __init__(
        self, services: Services, connect: Callable[[], imaplib.IMAP4] | None = None
    ) -> None:
        self.services = services
        self.settings = services.settings.imap
        self._connect = connect or self._default_connect

    def _default_connect(self) -> imaplib.IMAP4:
        s = self.settings
        if s.tls == "tls":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                s.host, s.port, ssl_context=ssl.create_default_context()
            )
        else:
            conn = imaplib.IMAP4(s.host, s.port)
            if s.tls == "starttls":
                conn.starttls(ssl_context=ssl.create_default_context())
        conn.login(s.user, s.password)
        return conn

    def poll(self) -> int:
        """Process unseen messages; returns how many were handled."""
        conn = self._connect()
        handled = 0
        try:
            typ, _ = conn.select(self.settings.folder)
            if typ != "OK":
                raise RuntimeError(f"IMAP folder {self.settings.folder!r} cannot be selected")
            typ, data = conn.uid("SEARCH", None, "UNSEEN")
            uids = (data[0] or b"").split() if typ == "OK" and data else []
            for uid in uids[:MAX_PER_RUN]:
                raw = _fetch(conn, uid)
                if raw is None:
                    continue
                try:
                    process_message(self.services, raw)
                except Exception:
                    logger.exception("IMAP message %s could not be processed; left unseen", uid)
                    continue
                conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")
                handled += 1
        finally:
            try:
                conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        return handled


def _fetch(conn: imaplib.IMAP4, uid: bytes) -> bytes | None:
    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK" or not data:
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return bytes(item[1])
    return None
