"""principal-property-search (RFC 3744 §9.4) over calhub users: stock Radicale answers it empty,
but clients use it to find people (display name, e-mail / calendar-user-address-set)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from radicale import xmlutils

from hub.booking.dav_read import DavPrincipal

SEARCHABLE = ("D:displayname", "C:calendar-user-address-set", "CS:email-address-set")


def _c(tag: str) -> str:
    return xmlutils.make_clark(tag)


def _values(p: DavPrincipal, prop: str) -> list[str]:
    if prop == _c("D:displayname"):
        return [p.display_name or p.username, p.username]
    if prop in (_c("C:calendar-user-address-set"), _c("CS:email-address-set")):
        return [f"mailto:{p.email}", p.email] if p.email else []
    return []


def _matches(p: DavPrincipal, searches: list[tuple[list[str], str, str]], anyof: bool) -> bool:
    if not searches:
        return True
    results = []
    for props, text, match_type in searches:
        needle = text.lower()
        hit = False
        for prop in props:
            for value in _values(p, prop):
                v = value.lower()
                if (
                    (match_type == "starts-with" and v.startswith(needle))
                    or (match_type == "equals" and v == needle)
                    or (match_type not in ("starts-with", "equals") and needle in v)
                ):
                    hit = True
        results.append(hit)
    return any(results) if anyof else all(results)


def _visible(me: DavPrincipal | None, p: DavPrincipal) -> bool:
    """Colleagues only: people at the same location (a manager without one sees everyone)."""
    if me is None:
        return False
    if me.location_id is None and me.role == "manager":
        return True
    return p.location_id == me.location_id or p.id == me.id


def principal_search_response(
    storage: Any, base_prefix: str, xml: ET.Element, login: str
) -> ET.Element:
    """The multistatus answer to a principal-property-search."""
    searches = []
    for ps in xml.findall(_c("D:property-search")):
        prop = ps.find(_c("D:prop"))
        match = ps.find(_c("D:match"))
        props = [child.tag for child in prop] if prop is not None else []
        text = (match.text or "") if match is not None else ""
        match_type = (match.get("match-type") if match is not None else None) or "contains"
        searches.append((props, text, match_type))
    anyof = xml.get("test", "allof") == "anyof"
    wanted = xml.find(_c("D:prop"))
    wanted_tags = [c.tag for c in wanted] if wanted is not None else []
    # Some clients (python caldav) put the wanted properties beside an empty D:prop.
    wanted_tags += [
        c.tag
        for c in xml
        if c.tag
        not in (_c("D:prop"), _c("D:property-search"), _c("D:apply-to-principal-collection-set"))
    ]
    if not wanted_tags:
        wanted_tags = [_c("D:displayname"), _c("C:calendar-home-set"), _c("D:principal-URL")]
    me = storage.queries.principal(login) if login else None
    multistatus = ET.Element(_c("D:multistatus"))
    for p in storage.queries.principals():
        if not _visible(me, p) or not _matches(p, searches, anyof):
            continue
        href = f"{base_prefix}/{p.username}/"
        response = ET.SubElement(multistatus, _c("D:response"))
        ET.SubElement(response, _c("D:href")).text = href
        found = ET.Element(_c("D:prop"))
        missing = ET.Element(_c("D:prop"))
        for tag in wanted_tags:
            el = ET.Element(tag)
            if tag == _c("D:displayname"):
                el.text = p.display_name or p.username
            elif tag in (_c("C:calendar-home-set"), _c("D:principal-URL")):
                ET.SubElement(el, _c("D:href")).text = href
            elif tag in (_c("C:calendar-user-address-set"), _c("CS:email-address-set")):
                if not p.email:
                    missing.append(el)
                    continue
                ET.SubElement(el, _c("D:href")).text = f"mailto:{p.email}"
            elif tag == _c("D:resourcetype"):
                ET.SubElement(el, _c("D:principal"))
                ET.SubElement(el, _c("D:collection"))
            elif tag == _c("C:calendar-user-type"):
                el.text = "INDIVIDUAL"
            else:
                missing.append(el)
                continue
            found.append(el)
        for props, status in ((found, "200 OK"), (missing, "404 Not Found")):
            if len(props):
                propstat = ET.SubElement(response, _c("D:propstat"))
                propstat.append(props)
                ET.SubElement(propstat, _c("D:status")).text = f"HTTP/1.1 {status}"
    return multistatus


def search_property_set() -> ET.Element:
    """The properties principal-property-search can match on (RFC 3744 §9.5)."""
    root = ET.Element(_c("D:principal-search-property-set"))
    for tag, label in (
        ("D:displayname", "Display name"),
        ("C:calendar-user-address-set", "E-mail address"),
    ):
        sp = ET.SubElement(root, _c("D:principal-search-property"))
        prop = ET.SubElement(sp, _c("D:prop"))
        ET.SubElement(prop, _c(tag))
        ET.SubElement(sp, _c("D:description"), {"xml:lang": "en"}).text = label
    return root
