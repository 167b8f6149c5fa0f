"""Sending over SMTP (smtplib): one kept-alive connection, STARTTLS or implicit TLS, login.

SMTP replies become delivery outcomes: 5xx for a recipient or the message is permanent (no
retry helps); 4xx, timeouts and dropped connections are transient and retried with backoff.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from email.message import Message

from hub.config import SmtpSettings
from hub.sync.delivery import DeliveryError

IDLE_SECONDS = 20.0  # reconnect rather than reuse a connection the server may have dropped


class SmtpMailer:
    """Hands messages to the configured SMTP server; thread-safe, reconnects as needed."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._conn: smtplib.SMTP | None = None
        self._last_used = 0.0
        self._lock = threading.Lock()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if not s.host:
            raise DeliveryError("no SMTP server is configured (set CALHUB_SMTP_HOST)")
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if s.tls == "tls":
            conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        conn.ehlo()
        if s.tls == "starttls":
            conn.starttls(context=context)
            conn.ehlo()
        if s.user:
            conn.login(s.user, s.password)
        return conn

    def close(self) -> None:
        """Say QUIT and drop the connection."""
        with self._lock:
            self._drop(quit_first=True)

    def _drop(self, quit_first: bool = False) -> None:
        if self._conn is not None:
            try:
                if quit_first:
                    self._conn.quit()
                else:
                    self._conn.close()
            except (smtplib.SMTPException, OSError):
                pass
        self._conn = None

    def send(self, msg: Message, recipients: list[str], sender: str | None = None) -> None:
        """Deliver ``msg``; returns once the server accepted it, else raises DeliveryError."""
        envelope_from = sender or self.settings.mail_from
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or time.monotonic() - self._last_used > IDLE_SECONDS:
                        self._drop(quit_first=True)
                        self._conn = self._connect()
                    refused = self._conn.send_message(msg, envelope_from, recipients)
                    self._last_used = time.monotonic()
                    if refused:
                        raise _refused(refused)
                    return
                except smtplib.SMTPServerDisconnected as e:
                    self._drop()
                    if attempt == 2:
                        raise DeliveryError(f"SMTP server closed the connection: {e}") from e
                except smtplib.SMTPRecipientsRefused as e:
                    self._reset()
                    raise _refused(e.recipients) from e
                except smtplib.SMTPAuthenticationError as e:
                    self._drop()
                    raise DeliveryError(
                        f"SMTP login refused ({e.smtp_code}): check smtp.user/password", auth=True
                    ) from e
                except smtplib.SMTPResponseException as e:
                    self._reset()
                    text = _text(e.smtp_error)
                    raise DeliveryError(
                        f"SMTP server answered {e.smtp_code} {text}", permanent=e.smtp_code >= 500
                    ) from e
                except (smtplib.SMTPException, OSError) as e:
                    self._drop()
                    raise DeliveryError(f"SMTP delivery failed: {e!r}") from e

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _refused(refused: dict[str, tuple[int, bytes]]) -> DeliveryError:
    codes = [code for code, _ in refused.values()]
    detail = "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in refused.items())
    return DeliveryError(
        f"SMTP server refused recipient(s): {detail}", permanent=all(c >= 500 for c in codes)
    )
