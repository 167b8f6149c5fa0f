"""Bearer API-key authentication for /api/v1."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request

from hub.domain.errors import Unauthorized
from hub.services import Services


def require_api_key(services: Services) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the request must carry ``Authorization: Bearer <api key>``."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized(
                    "send the API key as 'Authorization: Bearer <key>' (create one with "
                    "`calhub apikey create NAME`)"
                )
            key = services.booking.api_key_for(token.strip())
            if key is None:
                raise Unauthorized("this API key is unknown or revoked")
            g.api_key = key
            return view(*args, **kwargs)

        return wrapper

    return decorator
