"""The mail channel's integration status, read from the outbox rows of target ``mail``.

``ok``: nothing waiting on a failure; ``retrying``: some messages failed and wait for their
next attempt (``lastError`` says why); ``failing``: messages went to the dead-letter list
after every retry; ``disabled``: no SMTP server is configured.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hub.domain.timerange import iso_z
from hub.services import Services
from hub.store.models import Outbox

MAIL = "mail"


def mail_status(services: Services) -> dict[str, Any]:
    """Counts, the last error and the last success of outgoing mail."""
    smtp = services.settings.smtp
    with services.db.reader() as s:

        def count(*where: Any) -> int:
            q = select(func.count()).select_from(Outbox).where(Outbox.target == MAIL, *where)
            return int(s.scalar(q) or 0)

        pending = count(Outbox.status == "pending")
        retrying = count(Outbox.status == "pending", Outbox.attempts > 0)
        dead = count(Outbox.status == "dead")
        sent = count(Outbox.status == "done")
        last_error_row = s.execute(
            select(Outbox.id, Outbox.last_error, Outbox.next_attempt_at, Outbox.attempts)
            .where(Outbox.target == MAIL, Outbox.last_error.is_not(None))
            .order_by(Outbox.id.desc())
            .limit(1)
        ).first()
        last_success = s.scalar(
            select(func.max(Outbox.done_at)).where(Outbox.target == MAIL, Outbox.status == "done")
        )
        next_retry = s.scalar(
            select(func.min(Outbox.next_attempt_at)).where(
                Outbox.target == MAIL, Outbox.status == "pending", Outbox.attempts > 0
            )
        )
    if not smtp.host:
        status = "disabled"
    elif dead:
        status = "failing"
    elif retrying:
        status = "retrying"
    else:
        status = "ok"
    return {
        "provider": "smtp",
        "status": status,
        "smtp": {"host": smtp.host, "port": smtp.port, "tls": smtp.tls, "from": smtp.mail_from},
        "pending": pending,
        "retrying": retrying,
        "dead": dead,
        "done": sent,
        "lastError": last_error_row.last_error if last_error_row and (retrying or dead) else None,
        "nextRetryAt": iso_z(next_retry) if next_retry else None,
        "lastSuccessAt": iso_z(last_success) if last_success else None,
    }
