"""Declarative field specs: API field name → column, with a validator. Shared by set-up commands."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.domain.errors import Invalid
from hub.domain.hours import validate_opening_hours
from hub.domain.recurrence import validate_rrule
from hub.domain.timerange import parse_instant, zone

Validator = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Field:
    """One writable API field."""

    column: str
    validate: Validator
    required: bool = False
    default: Any = None
    nullable: bool = False


def text(max_len: int = 200) -> Validator:
    """A non-empty string of at most ``max_len`` characters."""

    def check(name: str, v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise Invalid(f"{name} must be a non-empty string")
        if len(v) > max_len:
            raise Invalid(f"{name} is longer than {max_len} characters")
        return v.strip()

    return check


def integer(lo: int, hi: int) -> Validator:
    """A whole number in [lo, hi]."""

    def check(name: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise Invalid(f"{name} must be a whole number")
        if not lo <= v <= hi:
            raise Invalid(f"{name} must be between {lo} and {hi}, not {v}")
        return v

    return check


def boolean(name: str, v: Any) -> bool:
    """true or false."""
    if not isinstance(v, bool):
        raise Invalid(f"{name} must be true or false")
    return v


def choice(*options: str) -> Validator:
    """One of ``options``."""

    def check(name: str, v: Any) -> str:
        if v not in options:
            raise Invalid(f"{name} must be one of {', '.join(options)}, not {v!r}")
        return v

    return check


def email(name: str, v: Any) -> str:
    """An e-mail address (lower-cased)."""
    if not isinstance(v, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+|[^@\s]+@localhost", v):
        raise Invalid(f"{name} must be an e-mail address such as anna@example.com")
    if len(v) > 320:
        raise Invalid(f"{name} is too long")
    return v.lower()


def color(name: str, v: Any) -> str:
    """A CSS hex colour."""
    if not isinstance(v, str) or not re.fullmatch(r"#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?", v):
        raise Invalid(f"{name} must be a hex colour such as #3366ff")
    return v


def timezone(name: str, v: Any) -> str:
    """An IANA time-zone name."""
    zone(v)
    return str(v)


def instant(name: str, v: Any) -> Any:
    """An ISO 8601 instant with offset."""
    return parse_instant(v, name)


def rrule(name: str, v: Any) -> str:
    """An RFC 5545 RRULE."""
    return validate_rrule(v)


def opening_hours(name: str, v: Any) -> Any:
    """Opening hours per weekday."""
    return validate_opening_hours(v)


def id_list(name: str, v: Any) -> list[str]:
    """A list of ids."""
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v) or len(v) > 200:
        raise Invalid(f"{name} must be a list of ids")
    return list(dict.fromkeys(v))


def slug(name: str, v: Any) -> str:
    """A URL-safe short name."""
    if not isinstance(v, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", v):
        raise Invalid(f"{name} must be lower-case letters, digits and dashes")
    return v


def apply_fields(
    obj: Any, data: dict[str, Any], spec: dict[str, Field], *, creating: bool, what: str
) -> dict[str, Any]:
    """Validate ``data`` against ``spec`` and set the columns; returns {column: new value}."""
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise Invalid(f"unknown field(s) for {what}: {', '.join(unknown)}")
    changed: dict[str, Any] = {}
    for name, field in spec.items():
        if name in data:
            raw = data[name]
            value = None if raw is None and field.nullable else field.validate(name, raw)
        elif creating:
            if field.required:
                raise Invalid(f"{name} is required for {what}")
            value = field.default() if callable(field.default) else field.default
        else:
            continue
        if creating or getattr(obj, field.column) != value:
            changed[field.column] = value
        setattr(obj, field.column, value)
    return changed
