"""``BookingService``: the one write path. Every front end calls these commands and nothing else."""

from __future__ import annotations

from hub.booking.accounts import AccountCommands
from hub.booking.busy_blocks import BusyBlockCommands
from hub.booking.reservations import ReservationCommands
from hub.booking.series import SeriesCommands
from hub.booking.setup import SetupCommands


class BookingService(
    SeriesCommands, ReservationCommands, SetupCommands, AccountCommands, BusyBlockCommands
):
    """All commands, grouped by area in their own modules; one instance per process."""
