"""Half-open UTC time ranges and ISO 8601 parsing that refuses ambiguous (offset-less) input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.domain.errors import Invalid


@dataclass(frozen=True, order=True)
class TimeRange:
    """A half-open interval [start, end) of aware UTC datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise Invalid("times must carry a UTC offset")
        if self.end <= self.start:
            raise Invalid(
                f"end ({iso_z(self.end)}) must be after start ({iso_z(self.start)})",
                code="end_before_start",
            )

    def overlaps(self, other: TimeRange) -> bool:
        """True when the two ranges share any instant."""
        return self.start < other.end and other.start < self.end

    def contains(self, other: TimeRange) -> bool:
        """True when ``other`` lies wholly inside this range."""
        return self.start <= other.start and other.end <= self.end

    def widen(self, before: timedelta, after: timedelta) -> TimeRange:
        """The range grown by buffers on each side."""
        return TimeRange(self.start - before, self.end + after)

    @property
    def duration(self) -> timedelta:
        """Length of the range."""
        return self.end - self.start


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; naive values are taken as UTC (database reads)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_instant(value: object, field: str = "time") -> datetime:
    """Parse an ISO 8601 instant that carries an offset or ``Z``; refuse anything ambiguous."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{field} must be an ISO 8601 date-time string such as 2026-05-01T09:00:00Z")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as e:
        raise Invalid(f"{field}: {value!r} is not an ISO 8601 date-time") from e
    if parsed.tzinfo is None:
        raise Invalid(
            f"{field}: {value!r} has no UTC offset; add 'Z' or an offset such as +02:00",
            code="offset_required",
        )
    if not (1970 <= parsed.year <= 2200):
        raise Invalid(f"{field}: {value!r} is out of the supported range (1970–2200)")
    return parsed.astimezone(UTC)


def parse_date(value: object, field: str = "date") -> date:
    """Parse a YYYY-MM-DD date."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a date in the form YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError as e:
        raise Invalid(f"{field}: {value!r} is not a date in the form YYYY-MM-DD") from e
    if not (1970 <= parsed.year <= 2200):
        raise Invalid(f"{field}: {value!r} is out of the supported range (1970–2200)")
    return parsed


def iso_z(value: datetime) -> str:
    """Render an instant as ISO 8601 in UTC with a trailing Z."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone(name: object) -> ZoneInfo:
    """Return the IANA time zone called ``name`` or raise Invalid."""
    if not isinstance(name, str) or not name:
        raise Invalid("timezone must be an IANA time zone name such as Europe/Paris")
    if len(name) > 64:
        raise Invalid("timezone is too long to be an IANA time zone name such as Europe/Paris")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:  # OSError: a directory, odd bytes
        raise Invalid(f"timezone {name!r} is not a known IANA time zone") from e
