"""``BookingService``: the one write path. Every front end calls these commands and nothing else."""

from __future__ import annotations

from hub.booking.accounts import AccountCommands
from hub.booking.feeds import FeedCommands
from hub.booking.reminders import ReminderCommands
from hub.booking.replies import ReplyCommands
from hub.booking.reservations import ReservationCommands
from hub.booking.setup import SetupCommands


class BookingService(
    ReservationCommands,
    SetupCommands,
    AccountCommands,
    FeedCommands,
    ReminderCommands,
    ReplyCommands,
):
    """All commands, grouped by area in their own modules; one instance per process."""
