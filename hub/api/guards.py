"""Input guards for /api/v1 that no single command should have to repeat."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from hub.domain.errors import BadRequest, Invalid

NUL = "\x00"


class UnsupportedMediaType(BadRequest):
    """The body is not JSON (RFC 9110 §15.5.16)."""

    status = 415
    code = "unsupported_media_type"
    title = "Unsupported Media Type"


def reject_nul(value: Any, where: str = "the body") -> None:
    """Refuse NUL characters anywhere in a JSON value: PostgreSQL text cannot store them."""
    if isinstance(value, str):
        if NUL in value:
            raise Invalid(f"{where} contains a NUL character (\\u0000); remove it")
    elif isinstance(value, dict):
        for k, v in value.items():
            reject_nul(k, where)
            reject_nul(v, f"{where}.{k}" if isinstance(k, str) and NUL not in k else where)
    elif isinstance(value, list):
        for v in value:
            reject_nul(v, where)


def install_input_guards(bp: Blueprint) -> None:
    """Refuse NUL characters in the path and query string before any route runs."""

    @bp.before_request
    def _guard() -> None:
        if NUL in request.path:
            raise Invalid("the path contains a NUL character; remove it")
        for key, values in request.args.lists():
            reject_nul(key, "a query parameter name")
            for v in values:
                reject_nul(v, f"query parameter {key}")


def allow_query(*names: str) -> None:
    """Refuse query parameters a list does not know, so a typo never silently lists everything."""
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        known = ", ".join(names)
        raise Invalid(f"unknown query parameter(s): {', '.join(unknown)}; this list takes {known}")
