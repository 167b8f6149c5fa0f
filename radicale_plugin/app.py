"""Radicale application subclass: maps calhub's HubError to a DAV status with a readable reason,
captures the window of ``<C:expand>`` queries before Radicale strips it, explains malformed
iCalendar, and answers principal searches with real calhub users."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import radicale.app
import radicale.item as radicale_item
from radicale import httputils, xmlutils

from hub.domain.errors import HubError, Invalid
from radicale_plugin import session
from radicale_plugin.principals import principal_search_response, search_property_set

REASON_NS = "urn:calhub:error"
EXPAND_FORMAT = "%Y%m%dT%H%M%SZ"


def _parse_utc(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, EXPAND_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def expand_window(xml: ET.Element) -> tuple[datetime, datetime] | None:
    """The window an expanding calendar-query asks about (its expand or time-range element)."""
    expand = xml.find(".//" + xmlutils.make_clark("C:expand"))
    if expand is None:
        return None
    start, end = _parse_utc(expand.get("start")), _parse_utc(expand.get("end"))
    if start is None or end is None:
        return None
    for tr in xml.iter(xmlutils.make_clark("C:time-range")):
        s, e = _parse_utc(tr.get("start")), _parse_utc(tr.get("end"))
        start = max(start, s) if s else start
        end = min(end, e) if e else end
    return (start, end) if start < end else (start, start)


class HubApplication(radicale.app.Application):
    """Radicale with one mapping of domain errors to answers (see radicale-plugin-api.md §9)."""

    def _handle_request(self, environ: Any) -> Any:
        token = session.begin()
        try:
            return super()._handle_request(environ)
        finally:
            session.end(token)

    def _hub_error(self, e: HubError, request_info: Any) -> Any:
        status = 400 if isinstance(e, Invalid) else e.status
        precondition = e.dav_precondition
        body = (
            xmlutils.webdav_error(precondition)
            if precondition
            else ET.Element(xmlutils.make_clark("D:error"))
        )
        ET.SubElement(body, f"{{{REASON_NS}}}reason").text = e.message
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if isinstance(request_info, dict):
            request_info["status"] = status
        return status, headers, self._xml_response(body, request_info or {}), None

    def _guard(
        self, method: Any, environ: Any, base_prefix: str, path: str, user: str, *args: Any
    ) -> Any:
        try:
            return method(environ, base_prefix, path, user, *args)
        except HubError as e:
            return self._hub_error(e, args[-1] if args else None)

    # ---- writes --------------------------------------------------------------------------------

    def do_PUT(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        raw = httputils.read_raw_request_body(self.configuration, environ)
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        answer = self._guard(super().do_PUT, environ, base_prefix, path, user, *args)
        status, headers = answer[0], dict(answer[1])
        if status == 400 and headers.get("Content-Type", "").startswith("text/plain"):
            return self._hub_error(Invalid(self._why_bad(raw)), args[-1] if args else None)
        if status in (201, 204) and session.current().transformed:
            # calhub stored its own rendering, not the client's bytes: no ETag (RFC 4791 §5.3.4),
            # so the client fetches the stored version instead of trusting its copy.
            headers.pop("ETag", None)
            return (status, headers, *answer[2:])
        return answer

    def _why_bad(self, raw: bytes) -> str:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "the body is not UTF-8 text"
        try:
            comps = radicale_item.read_components(text)
        except Exception as e:  # vobject raises many kinds
            return f"the iCalendar data cannot be parsed: {e}"
        if not comps:
            return "the body holds no calendar object"
        try:
            radicale_item.check_and_sanitize_items(
                comps, 10000, is_collection=False, tag="VCALENDAR"
            )
        except Exception as e:
            return f"the calendar object is not valid here: {e}"
        return "the calendar object is not valid iCalendar for this calendar"

    def do_DELETE(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        return self._guard(super().do_DELETE, environ, base_prefix, path, user, *args)

    def do_MOVE(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        return self._guard(super().do_MOVE, environ, base_prefix, path, user, *args)

    def do_PROPPATCH(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        return self._guard(super().do_PROPPATCH, environ, base_prefix, path, user, *args)

    def do_MKCALENDAR(
        self, environ: Any, base_prefix: str, path: str, user: str, *args: Any
    ) -> Any:
        return self._guard(super().do_MKCALENDAR, environ, base_prefix, path, user, *args)

    def do_MKCOL(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        return self._guard(super().do_MKCOL, environ, base_prefix, path, user, *args)

    # ---- principals ----------------------------------------------------------------------------

    def do_PROPFIND(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        answer = super().do_PROPFIND(environ, base_prefix, path, user, *args)
        parts = [p for p in path.split("/") if p]
        if answer[0] != 207 or len(parts) != 1 or not isinstance(answer[2], bytes):
            return answer
        tag = xmlutils.make_clark("C:calendar-user-address-set").encode()
        if tag.split(b"}")[-1] not in answer[2]:
            return answer
        principal = self._storage.queries.principal(parts[0])  # type: ignore[attr-defined]
        if principal is None or not principal.email:
            return answer
        # Clients match organizers and attendees by e-mail: add mailto: beside the principal URL.
        root = ET.fromstring(answer[2])
        for element in root.iter(xmlutils.make_clark("C:calendar-user-address-set")):
            ET.SubElement(element, xmlutils.make_clark("D:href")).text = f"mailto:{principal.email}"
        return (
            answer[0],
            answer[1],
            self._xml_response(root, args[-1] if args else {}),
            *answer[3:],
        )

    # ---- reports -------------------------------------------------------------------------------

    def _read_xml_request_body(self, environ: Any, request_info: Any) -> Any:
        state = session.current()
        if state.has_xml_body:
            return state.xml_body
        return super()._read_xml_request_body(environ, request_info)

    def do_REPORT(self, environ: Any, base_prefix: str, path: str, user: str, *args: Any) -> Any:
        request_info = args[-1] if args else {}
        state = session.current()
        try:
            xml = super()._read_xml_request_body(environ, request_info)
        except RuntimeError:
            return httputils.BAD_REQUEST
        state.xml_body, state.has_xml_body = xml, True
        if xml is not None and user:
            if xml.tag == xmlutils.make_clark("D:principal-property-search"):
                body = principal_search_response(self._storage, base_prefix, xml, user)
                return (
                    207,
                    {"Content-Type": "text/xml; charset=utf-8"},
                    self._xml_response(body, request_info),
                    None,
                )
            if xml.tag == xmlutils.make_clark("D:principal-search-property-set"):
                return (
                    200,
                    {"Content-Type": "text/xml; charset=utf-8"},
                    self._xml_response(search_property_set(), request_info),
                    None,
                )
            if xml.tag == xmlutils.make_clark("C:calendar-query"):
                state.expand_window = expand_window(xml)
        return self._guard(super().do_REPORT, environ, base_prefix, path, user, *args)
