"""Radicale application subclass: maps calhub's HubError to a DAV status with a readable reason."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import radicale.app
from radicale import xmlutils

from hub.domain.errors import HubError

REASON_NS = "urn:calhub:error"


class HubApplication(radicale.app.Application):
    """Radicale with one mapping of domain errors to answers (see radicale-plugin-api.md §9)."""

    def _hub_error(self, e: HubError, request_info: Any) -> Any:
        body = (
            xmlutils.webdav_error(e.dav_precondition or "D:error")
            if e.dav_precondition
            else ET.Element(xmlutils.make_clark("D:error"))
        )
        ET.SubElement(body, f"{{{REASON_NS}}}reason").text = e.message
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        return e.status, headers, self._xml_response(body, request_info or {}), None

    def do_PUT(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        try:
            return super().do_PUT(environ, base_prefix, path, user, *args)
        except HubError as e:
            return self._hub_error(e, args[-1] if args else None)

    def do_DELETE(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        try:
            return super().do_DELETE(environ, base_prefix, path, user, *args)
        except HubError as e:
            return self._hub_error(e, args[-1] if args else None)

    def do_MOVE(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        try:
            return super().do_MOVE(environ, base_prefix, path, user, *args)
        except HubError as e:
            return self._hub_error(e, args[-1] if args else None)
