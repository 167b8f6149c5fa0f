"""``BookingService``: the one write path. Every front end calls these commands and nothing else."""

from __future__ import annotations

from hub.booking.accounts import AccountCommands
from hub.booking.apikeys import ApiKeyCommands
from hub.booking.busy import PersonalCalendarCommands
from hub.booking.busy_blocks import BusyBlockCommands
from hub.booking.caldav_writes import CalDavCommands
from hub.booking.feeds import FeedCommands
from hub.booking.idempotency import IdempotencyCommands
from hub.booking.integrations import IntegrationCommands
from hub.booking.reminders import ReminderCommands
from hub.booking.replies import ReplyCommands
from hub.booking.reservations import ReservationCommands
from hub.booking.series import SeriesCommands
from hub.booking.setup import SetupCommands
from hub.booking.webhooks import WebhookCommands


class BookingService(
    SeriesCommands,
    ReservationCommands,
    SetupCommands,
    AccountCommands,
    IdempotencyCommands,
    WebhookCommands,
    ApiKeyCommands,
    IntegrationCommands,
    PersonalCalendarCommands,
    CalDavCommands,
    BusyBlockCommands,
    FeedCommands,
    ReminderCommands,
    ReplyCommands,
):
    """All commands, grouped by area in their own modules; one instance per process."""
