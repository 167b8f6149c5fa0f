"""Property: the SQL time-range pre-filter plus Radicale's flag rule returns exactly what
Radicale's own full RFC 4791 matcher returns, for random recurring events and windows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import radicale.item as radicale_item
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from radicale.app.report import test_filter as radicale_test_filter

from hub.services import Services
from hub.wsgi import radicale_configuration
from radicale_plugin import session
from radicale_plugin.storage import Storage

BASE = datetime(2026, 3, 1, tzinfo=UTC)
PARIS_TZ = """BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
DTSTART:19810329T020000\r
TZNAME:CEST\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
DTSTART:19961027T030000\r
TZNAME:CET\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
"""


@st.composite
def events(draw: Any, n: int) -> str:
    """One random event: timed or all-day, UTC or Paris, maybe recurring with exceptions."""
    all_day = draw(st.booleans())
    day = draw(st.integers(0, 60))
    hour = draw(st.integers(0, 23))
    start = BASE + timedelta(days=day, hours=hour)
    paris = not all_day and draw(st.booleans())
    lines = ["BEGIN:VEVENT", f"UID:ev-{n}", "DTSTAMP:20260101T000000Z"]

    def fmt(dt: datetime) -> str:
        if all_day:
            return f";VALUE=DATE:{dt:%Y%m%d}"
        if paris:
            return f";TZID=Europe/Paris:{dt:%Y%m%dT%H%M%S}"
        return f":{dt:%Y%m%dT%H%M%SZ}"

    lines.append("DTSTART" + fmt(start))
    if all_day:
        lines.append("DTEND" + fmt(start + timedelta(days=draw(st.integers(1, 3)))))
    else:
        minutes = draw(st.sampled_from([0, 30, 60, 180, 24 * 60, 3 * 24 * 60]))
        if minutes:
            lines.append("DTEND" + fmt(start + timedelta(minutes=minutes)))
    step = None
    if draw(st.booleans()):
        freq, step = draw(
            st.sampled_from([("DAILY", timedelta(days=1)), ("WEEKLY", timedelta(days=7))])
        )
        interval = draw(st.integers(1, 3))
        step = step * interval
        rule = f"RRULE:FREQ={freq};INTERVAL={interval}"
        ending = draw(st.sampled_from(["count", "until", "none"]))
        if ending == "count":
            rule += f";COUNT={draw(st.integers(1, 8))}"
        elif ending == "until":
            rule += f";UNTIL={start + step * draw(st.integers(0, 6)):%Y%m%dT%H%M%SZ}"
        lines.append(rule)
        if draw(st.booleans()):
            lines.append("EXDATE" + fmt(start + step * draw(st.integers(0, 3))))
    lines.append(f"SUMMARY:event {n}")
    lines.append("END:VEVENT")
    if step is not None and not all_day and draw(st.booleans()):
        k = draw(st.integers(1, 3))
        moved = start + step * k + timedelta(days=draw(st.integers(-20, 20)))
        lines += [
            "BEGIN:VEVENT",
            f"UID:ev-{n}",
            "DTSTAMP:20260101T000000Z",
            "RECURRENCE-ID" + fmt(start + step * k),
            "DTSTART" + fmt(moved),
            "DTEND" + fmt(moved + timedelta(hours=1)),
            "END:VEVENT",
        ]
    body = "\r\n".join(lines) + "\r\n"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//prop//EN\r\n"
        + (PARIS_TZ if paris else "")
        + body
        + "END:VCALENDAR\r\n"
    )


def time_range_filter(start: datetime, end: datetime) -> ET.Element:
    xml = (
        '<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VCALENDAR">'
        f'<C:comp-filter name="VEVENT"><C:time-range start="{start:%Y%m%dT%H%M%SZ}" '
        f'end="{end:%Y%m%dT%H%M%SZ}"/></C:comp-filter></C:comp-filter></C:filter>'
    )
    return ET.fromstring(xml)


COUNTER = iter(range(1_000_000))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    texts=st.lists(st.integers(0, 10**6), min_size=1, max_size=4).flatmap(
        lambda seeds: st.tuples(*[events(i) for i in range(len(seeds))])
    ),
    window_day=st.integers(-5, 90),
    window_hours=st.integers(1, 24 * 20),
)
def test_sql_prefilter_agrees_with_radicales_matcher(
    services: Services, texts: tuple[str, ...], window_day: int, window_hours: int
) -> None:
    b = services.booking
    if not hasattr(services, "_prop_user"):
        user = b.add_user("prop", "staff", "password-123")
        services._prop_user = user  # type: ignore[attr-defined]
    user = services._prop_user  # type: ignore[attr-defined]
    name = f"p{next(COUNTER)}"
    b.create_personal_calendar(user["id"], name, {})
    session.begin()  # a fresh "request": no cached home from the previous example
    storage = Storage(radicale_configuration(services), services)
    collection = next(iter(storage.discover(f"/prop/{name}/")))
    for i, text in enumerate(texts):
        item = radicale_item.Item(collection_path=f"prop/{name}", text=text)
        item.prepare()
        collection.upload(f"ev-{i}.ics", item)
    start = BASE + timedelta(days=window_day)
    end = start + timedelta(hours=window_hours)
    filt = time_range_filter(start, end)

    collection = next(iter(storage.discover(f"/prop/{name}/")))
    ours = set()
    for item, matched in collection.get_filtered([filt]):
        fresh = radicale_item.Item(collection_path=f"prop/{name}", text=item.serialize())
        if matched or radicale_test_filter("VCALENDAR", fresh, filt):
            ours.add(item.href)
    truth = set()
    for item in collection.get_all():
        fresh = radicale_item.Item(collection_path=f"prop/{name}", text=item.serialize())
        if radicale_test_filter("VCALENDAR", fresh, filt):
            truth.add(item.href)
    assert ours == truth
