"""The CalDAV face with the ``caldav`` library and plain HTTP: discovery, the demo week, every
write through the booking rules, refusals with reasons, roles, sync tokens, principal search."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import caldav
import icalendar
import pytest
from caldav.elements import dav as dav_el
from caldav.elements import ical as ical_el

from tests.caldav.conftest import DemoHub

SLUG = "pawsome-cafe"
SYNC_BODY = """<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">
<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>
<D:prop><D:getetag/></D:prop></D:sync-collection>"""


def calendars_by_name(client: caldav.DAVClient) -> dict[str, caldav.Calendar]:
    return {str(c.url).rstrip("/").rsplit("/", 1)[-1]: c for c in client.principal().calendars()}


def future_bookings(demo: DemoHub) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = demo.api.get(
        "/appointments", params={"start": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "limit": 100}
    ).json()["data"]
    return [r for r in rows if r["status"] == "BK"]


def ics_of(demo: DemoHub, user: str, coll: str, uid: str) -> tuple[str, str]:
    r = demo.http(user).get(f"{demo.dav}/{user}/{coll}/{uid}.ics")
    assert r.status_code == 200, r.text
    return r.text, r.headers["ETag"]


def same_meaning(a: str, b: str) -> bool:
    """Equal as iCalendar: the same components with the same properties and values."""

    def canon(text: str) -> list[Any]:
        cal = icalendar.Calendar.from_ical(text)
        out = []
        for comp in cal.walk():
            if comp.name == "VCALENDAR":
                continue
            props = sorted(
                (k, v.to_ical() if hasattr(v, "to_ical") else str(v))
                for k, v in comp.property_items(recursive=False)
            )
            out.append((comp.name, props))
        return sorted(out, key=repr)

    return canon(a) == canon(b)


def with_times(text: str, start: datetime, end: datetime, **props: str) -> str:
    cal = icalendar.Calendar.from_ical(text)
    ev = next(iter(cal.walk("VEVENT")))
    for name in ("DTSTART", "DTEND"):
        del ev[name]
    ev.add("DTSTART", start)
    ev.add("DTEND", end)
    for name, value in props.items():
        name = name.replace("_", "-")
        if name in ev:
            del ev[name]
        ev.add(name, value)
    return cal.to_ical().decode()


def test_discovery_finds_principal_home_and_role_calendars(demo: DemoHub) -> None:
    r = demo.http("manager").request("PROPFIND", demo.url + "/.well-known/caldav")
    assert r.status_code in (200, 207)  # followed the redirect to /dav/
    manager = calendars_by_name(demo.client("manager"))
    assert set(manager) == {
        "schedule",
        "busy",
        f"{SLUG}-reservations",
        f"{SLUG}-shifts",
        f"{SLUG}-events",
        f"{SLUG}-blackouts",
        f"{SLUG}-freebusy",
    }
    mia = calendars_by_name(demo.client("mia"))
    assert set(mia) == {
        "schedule",
        "busy",
        f"{SLUG}-events",
        f"{SLUG}-blackouts",
        f"{SLUG}-freebusy",
    }
    props = mia["schedule"].get_properties([dav_el.DisplayName(), ical_el.CalendarColor()])
    assert "My schedule" in props.values()
    body = (
        demo.http("mia")
        .request(
            "PROPFIND",
            f"{demo.dav}/mia/schedule/",
            headers={"Depth": "0"},
            data='<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            "<prop><C:calendar-timezone/><C:supported-calendar-component-set/>"
            "<current-user-privilege-set/></prop></propfind>",
        )
        .text
    )
    assert "BEGIN:VTIMEZONE" in body and "Europe/Paris" in body
    assert 'name="VEVENT"' in body
    events = (
        demo.http("mia")
        .request(
            "PROPFIND",
            f"{demo.dav}/mia/{SLUG}-events/",
            headers={"Depth": "0"},
            data='<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>',
        )
        .text
    )
    assert re.search(r"<(\w+:)?read\s*/>", events)
    assert "write" not in events  # read-only: clients grey it out


def test_demo_week_listed_with_and_without_expand(demo: DemoHub) -> None:
    cals = calendars_by_name(demo.client("manager"))
    now = datetime.now(UTC)
    week = cals[f"{SLUG}-reservations"].search(start=now, end=now + timedelta(days=8), event=True)
    assert len(week) == len(future_bookings(demo)) > 10
    tz = ZoneInfo("Europe/Paris")
    tomorrow = datetime.now(tz).date() + timedelta(days=1)
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz)
    expanded = cals[f"{SLUG}-shifts"].search(
        start=midnight, end=midnight + timedelta(days=7), event=True, expand=True
    )
    # Mia works TU-SA, Leo MO-FR: ten shifts in any seven days.
    assert len(expanded) == 10
    for ev in expanded:
        assert ev.icalendar_component.get("RRULE") is None
    summary = str(week[0].icalendar_component["SUMMARY"])
    assert "—" in summary  # the manager sees who booked


def test_free_busy_view_holds_no_customer_details(demo: DemoHub) -> None:
    text = demo.http("mia").get(f"{demo.dav}/mia/{SLUG}-freebusy/").text
    assert text.count("BEGIN:VEVENT") > 10
    assert "Unavailable" in text
    for secret in ("Alice", "Martin", "@customers.example", "+33 6", "Party size"):
        assert secret not in text
    r = demo.http("mia").put(
        f"{demo.dav}/mia/{SLUG}-freebusy/x.ics",
        data="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    )
    assert r.status_code == 403


def test_staff_cannot_reach_another_staff_members_calendars(demo: DemoHub) -> None:
    mia = demo.http("mia")
    for coll in ("schedule", "busy"):
        r = mia.request("PROPFIND", f"{demo.dav}/leo/{coll}/", headers={"Depth": "1"})
        assert r.status_code in (403, 404)
        assert mia.get(f"{demo.dav}/leo/{coll}/").status_code in (403, 404)
        r = mia.put(
            f"{demo.dav}/leo/{coll}/sneaky.ics",
            data=_busy_ics("sneaky", datetime.now(UTC) + timedelta(days=3)),
            headers={"Content-Type": "text/calendar"},
        )
        assert r.status_code in (403, 404)
    assert mia.get(f"{demo.dav}/mia/{SLUG}-reservations/").status_code in (403, 404)
    r = mia.put(
        f"{demo.dav}/mia/{SLUG}-events/new.ics",
        data=_busy_ics("new", datetime.now(UTC) + timedelta(days=3)),
        headers={"Content-Type": "text/calendar"},
    )
    assert r.status_code == 403


def test_reschedule_party_size_and_notes_through_a_put(demo: DemoHub) -> None:
    booking = next(b for b in future_bookings(demo) if b["partySize"] == 2)
    text, etag = ics_of(demo, "manager", f"{SLUG}-reservations", booking["uid"])
    start = datetime.fromisoformat(booking["start_time"].replace("Z", "+00:00"))
    new_start = start + timedelta(minutes=30)
    edited = with_times(
        text,
        new_start,
        new_start + timedelta(minutes=60),
        X_CALHUB_PARTY_SIZE="3",
        X_CALHUB_NOTES="window seat please",
    )
    r = demo.http("manager").put(
        f"{demo.dav}/manager/{SLUG}-reservations/{booking['uid']}.ics",
        data=edited,
        headers={"If-Match": etag, "Content-Type": "text/calendar"},
    )
    assert r.status_code == 204, r.text
    assert "ETag" not in r.headers  # calhub re-rendered it: the client must refetch
    after = demo.api.get(f"/appointments/{booking['id']}").json()
    assert after["start_time"] == new_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert after["partySize"] == 3
    assert after["notes"] == "window seat please"
    # The API's view is CalDAV's at once, with a new ETag.
    text2, etag2 = ics_of(demo, "manager", f"{SLUG}-reservations", booking["uid"])
    assert etag2 != etag and "window seat please" in text2
    # The same edit with the old ETag is refused: no lost update.
    r = demo.http("manager").put(
        f"{demo.dav}/manager/{SLUG}-reservations/{booking['uid']}.ics",
        data=edited,
        headers={"If-Match": etag, "Content-Type": "text/calendar"},
    )
    assert r.status_code == 412


def test_notes_edited_in_the_description_line(demo: DemoHub) -> None:
    booking = future_bookings(demo)[-1]
    text, etag = ics_of(demo, "manager", f"{SLUG}-reservations", booking["uid"])
    cal = icalendar.Calendar.from_ical(text)
    ev = next(iter(cal.walk("VEVENT")))
    desc = str(ev["DESCRIPTION"])
    del ev["DESCRIPTION"]
    ev.add("DESCRIPTION", desc + "\nNotes: allergic to cats")
    del ev["X-CALHUB-PARTY-SIZE"]
    r = demo.http("manager").put(
        f"{demo.dav}/manager/{SLUG}-reservations/{booking['uid']}.ics",
        data=cal.to_ical(),
        headers={"If-Match": etag, "Content-Type": "text/calendar"},
    )
    assert r.status_code == 204, r.text
    assert demo.api.get(f"/appointments/{booking['id']}").json()["notes"] == "allergic to cats"


def test_reschedule_into_a_taken_slot_is_refused_with_the_reason(demo: DemoHub) -> None:
    mia = demo.user("mia")
    grooms = [b for b in future_bookings(demo) if b["resourceIds"] == [mia["resourceId"]]]
    first, second = grooms[0], grooms[1]
    text, etag = ics_of(demo, "mia", "schedule", second["uid"])
    taken = datetime.fromisoformat(first["start_time"].replace("Z", "+00:00"))
    edited = with_times(text, taken, taken + timedelta(minutes=45))
    r = demo.http("mia").put(
        f"{demo.dav}/mia/schedule/{second['uid']}.ics",
        data=edited,
        headers={"If-Match": etag, "Content-Type": "text/calendar"},
    )
    assert r.status_code == 409
    assert "reason" in r.text and re.search(r"(taken|booked|busy|capacity|full)", r.text, re.I)
    unchanged = demo.api.get(f"/appointments/{second['id']}").json()
    assert unchanged["start_time"] == second["start_time"]
    assert unchanged["version"] == second["version"]
    assert ics_of(demo, "mia", "schedule", second["uid"])[1] == etag


def test_delete_cancels_by_staff(demo: DemoHub) -> None:
    mia = demo.user("mia")
    booking = [b for b in future_bookings(demo) if b["resourceIds"] == [mia["resourceId"]]][-1]
    cals = calendars_by_name(demo.client("mia"))
    event = cals["schedule"].event_by_url(f"{demo.dav}/mia/schedule/{booking['uid']}.ics")
    event.delete()
    after = demo.api.get(f"/appointments/{booking['id']}").json()
    assert after["status"] == "CN" and after["cancelledBy"] == "staff"
    assert demo.http("mia").get(f"{demo.dav}/mia/schedule/{booking['uid']}.ics").status_code == 404


def test_live_hold_is_tentative_and_busy(demo: DemoHub) -> None:
    loc = demo.location()
    table = demo.services.queries.list("resources", {"locationId": loc["id"], "kind": "table"})
    day = datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=9)
    while day.weekday() == 0:
        day += timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 17, 0, tzinfo=ZoneInfo("Europe/Paris"))
    hold = demo.api.post(
        "/appointments/hold",
        json={
            "locationId": loc["id"],
            "resourceIds": [table["data"][0]["id"]],
            "start_time": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_time": (start + timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    assert hold.status_code == 201, hold.text
    uid = hold.json()["uid"]
    text, _ = ics_of(demo, "manager", f"{SLUG}-reservations", uid)
    assert "STATUS:TENTATIVE" in text
    fb = demo.http("manager").request(
        "REPORT",
        f"{demo.dav}/manager/{SLUG}-freebusy/",
        data=f"""<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
<C:time-range start="{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
 end="{(start + timedelta(hours=2)).astimezone(UTC):%Y%m%dT%H%M%SZ}"/></C:free-busy-query>""",
    )
    assert fb.status_code == 200 and "FREEBUSY" in fb.text
    assert f"{start.astimezone(UTC):%Y%m%dT%H%M%SZ}" in fb.text


def _busy_ics(uid: str, start: datetime, summary: str = "Dentist") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


APPLE_STYLE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Apple Inc.//macOS 14.0//EN
CALSCALE:GREGORIAN
BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
DTSTART:19810329T020000
TZNAME:CEST
TZOFFSETTO:+0200
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
DTSTART:19961027T030000
TZNAME:CET
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:apple-weekly-yoga
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Paris:{first}T120000
DTEND;TZID=Europe/Paris:{first}T133000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Paris:{third}T120000
SUMMARY:Yoga (private)
LOCATION:Studio
ATTENDEE;CN=Friend;PARTSTAT=ACCEPTED:mailto:friend@example.com
ORGANIZER:mailto:mia@pawsome.example
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-PT15M
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:apple-weekly-yoga
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=Europe/Paris:{second}T120000
DTSTART;TZID=Europe/Paris:{second}T150000
DTEND;TZID=Europe/Paris:{second}T163000
SUMMARY:Yoga (moved)
END:VEVENT
END:VCALENDAR
"""


def test_busy_calendar_keeps_client_text_and_blocks_availability(demo: DemoHub) -> None:
    tz = ZoneInfo("Europe/Paris")
    first = datetime.now(tz).date() + timedelta(days=14)
    while first.weekday() not in (1, 2, 3):  # a day Mia works
        first += timedelta(days=1)
    text = APPLE_STYLE.format(
        first=first.strftime("%Y%m%d"),
        second=(first + timedelta(days=7)).strftime("%Y%m%d"),
        third=(first + timedelta(days=14)).strftime("%Y%m%d"),
    ).replace("\n", "\r\n")
    cals = calendars_by_name(demo.client("mia"))
    saved = cals["busy"].save_event(text)
    back = demo.http("mia").get(str(saved.url))
    assert back.status_code == 200
    assert same_meaning(back.text, text)  # stored faithfully
    assert back.text == demo.http("mia").get(str(saved.url)).text  # and stably
    allday = cals["busy"].save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:allday-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:{first + timedelta(days=1):%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{first + timedelta(days=2):%Y%m%d}\r\nSUMMARY:Day off\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert "Day off" in allday.data
    mia = demo.user("mia")
    groom = next(
        s for s in demo.services.queries.list("services", {})["data"] if s["name"] == "Dog grooming"
    )

    def slots(day: Any, sync: bool) -> set[str]:
        r = demo.api.get(
            "/availability",
            params={
                "serviceId": groom["id"],
                "startDate": day.isoformat(),
                "endDate": day.isoformat(),
                "resourceIds": mia["resourceId"],
                "syncExternal": "true" if sync else "false",
            },
        )
        assert r.status_code == 200, r.text
        return {t["start_time"] for t in r.json()["availableTimes"]}

    noon = datetime(first.year, first.month, first.day, 12, 0, tzinfo=tz).astimezone(UTC)
    at_noon = noon.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert at_noon in slots(first, False)
    assert at_noon not in slots(first, True)  # the recurring event blocks her
    # The override moved week 2 to 15:00; the exception freed week 3.
    second = first + timedelta(days=7)
    third = first + timedelta(days=14)
    noon2 = (noon + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    three2 = (
        datetime(second.year, second.month, second.day, 15, tzinfo=tz)
        .astimezone(UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert noon2 in slots(second, True) and three2 not in slots(second, True)
    noon3 = datetime(third.year, third.month, third.day, 12, tzinfo=tz).astimezone(UTC)
    assert noon3.strftime("%Y-%m-%dT%H:%M:%SZ") in slots(third, True)
    # The free/busy view shows it as busy, without the private summary.
    fb = demo.http("manager").get(f"{demo.dav}/manager/{SLUG}-freebusy/").text
    assert "RRULE:FREQ=WEEKLY;COUNT=6" in fb and "Yoga" not in fb and "friend@" not in fb
    # A recurring time-range query finds the series only in weeks it has an occurrence.
    hits = cals["busy"].search(
        start=datetime(third.year, third.month, third.day, tzinfo=tz),
        end=datetime(third.year, third.month, third.day, 23, tzinfo=tz),
        event=True,
    )
    assert [h for h in hits if "Yoga" in h.data] == []
    hits = cals["busy"].search(
        start=datetime(second.year, second.month, second.day, tzinfo=tz),
        end=datetime(second.year, second.month, second.day, 23, tzinfo=tz),
        event=True,
        expand=True,
    )
    moved = [h for h in hits if "Yoga" in h.data]
    assert len(moved) == 1 and "Yoga (moved)" in moved[0].data
    saved.delete()
    assert at_noon in slots(first, True)


def test_if_none_match_and_stale_if_match_on_busy(demo: DemoHub) -> None:
    url = f"{demo.dav}/leo/busy/inm.ics"
    leo = demo.http("leo")
    start = datetime.now(UTC) + timedelta(days=20)
    first = leo.put(url, data=_busy_ics("inm", start), headers={"If-None-Match": "*"})
    assert first.status_code == 201
    etag = first.headers["ETag"]
    again = leo.put(url, data=_busy_ics("inm", start), headers={"If-None-Match": "*"})
    assert again.status_code == 412
    ok = leo.put(url, data=_busy_ics("inm", start, "Edited"), headers={"If-Match": etag})
    assert ok.status_code == 204
    stale = leo.put(url, data=_busy_ics("inm", start, "Lost"), headers={"If-Match": etag})
    assert stale.status_code == 412
    assert "Edited" in leo.get(url).text
    assert leo.delete(url, headers={"If-Match": etag}).status_code == 412
    assert leo.delete(url).status_code in (200, 204)


def test_malformed_icalendar_is_400_with_the_reason(demo: DemoHub) -> None:
    r = demo.http("leo").put(
        f"{demo.dav}/leo/busy/bad.ics",
        data="BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:notadate\r\n",
        headers={"Content-Type": "text/calendar"},
    )
    assert r.status_code == 400
    assert "reason" in r.text and len(r.text) > 60


def test_manager_creates_moves_and_reassigns_a_shift(demo: DemoHub) -> None:
    mia, leo = demo.user("mia"), demo.user("leo")
    tz = ZoneInfo("Europe/Paris")
    day = datetime.now(tz).date() + timedelta(days=30)
    start = datetime(day.year, day.month, day.day, 19, tzinfo=tz)
    cals = calendars_by_name(demo.client("manager"))
    shifts = cals[f"{SLUG}-shifts"]
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:evening-shift-1\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{(start + timedelta(hours=3)).astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
        "SUMMARY:Evening shift\r\nATTENDEE:mailto:mia@pawsome.example\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    shifts.save_event(text)
    listed = demo.services.queries.list("shifts", {"resourceId": mia["resourceId"]})["data"]
    shift = next(s for s in listed if s["uid"] == "evening-shift-1")
    assert shift["start"] == start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Mia sees it in her schedule at once.
    assert demo.http("mia").get(f"{demo.dav}/mia/schedule/evening-shift-1.ics").status_code == 200
    # Move it an hour later and give it to Leo.
    body, etag = ics_of(demo, "manager", f"{SLUG}-shifts", "evening-shift-1")
    moved = with_times(
        body,
        start + timedelta(hours=1),
        start + timedelta(hours=4),
        X_CALHUB_RESOURCE_ID=leo["resourceId"],
    )
    r = demo.http("manager").put(
        f"{demo.dav}/manager/{SLUG}-shifts/evening-shift-1.ics",
        data=moved,
        headers={"If-Match": etag},
    )
    assert r.status_code == 204, r.text
    after = demo.services.queries.get("shifts", shift["id"])
    assert after["resourceId"] == leo["resourceId"]
    assert after["start"] == (start + timedelta(hours=1)).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert demo.http("mia").get(f"{demo.dav}/mia/schedule/evening-shift-1.ics").status_code == 404
    assert demo.http("leo").get(f"{demo.dav}/leo/schedule/evening-shift-1.ics").status_code == 200
    # Staff cannot edit shifts from their schedule.
    body, etag = ics_of(demo, "leo", "schedule", "evening-shift-1")
    r = demo.http("leo").put(
        f"{demo.dav}/leo/schedule/evening-shift-1.ics", data=body, headers={"If-Match": etag}
    )
    assert r.status_code == 403
    assert demo.http("manager").delete(f"{demo.dav}/manager/{SLUG}-shifts/evening-shift-1.ics").ok


def test_manager_puts_blackouts_and_events_and_the_rules_follow(demo: DemoHub) -> None:
    tz = ZoneInfo("Europe/Paris")
    day = datetime.now(tz).date() + timedelta(days=40)
    while day.weekday() == 0:
        day += timedelta(days=1)
    manager = demo.http("manager")
    blackout = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:closed-day\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{day:%Y%m%d}\r\nDTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}\r\n"
        "SUMMARY:Closed for painting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    r = manager.put(f"{demo.dav}/manager/{SLUG}-blackouts/closed-day.ics", data=blackout)
    assert r.status_code == 201, r.text
    rows = demo.services.queries.list("blackouts", {})["data"]
    assert any(b["uid"] == "closed-day" and b["summary"] == "Closed for painting" for b in rows)
    # The blackout is a rule: a booking that day is now refused.
    loc = demo.location()
    table = demo.services.queries.list("resources", {"locationId": loc["id"], "kind": "table"})
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=tz).astimezone(UTC)
    refused = demo.api.post(
        "/appointments",
        json={
            "locationId": loc["id"],
            "resourceIds": [table["data"][0]["id"]],
            "start_time": noon.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_time": (noon + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "customer": {"firstName": "Zoe", "email": "zoe@example.com"},
        },
    )
    assert refused.status_code == 409
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:puppy-party\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{noon + timedelta(days=1):%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{noon + timedelta(days=1, hours=2):%Y%m%dT%H%M%SZ}\r\n"
        "SUMMARY:Puppy party\r\nX-CALHUB-CAPACITY:15\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    r = manager.put(f"{demo.dav}/manager/{SLUG}-events/puppy-party.ics", data=event)
    assert r.status_code == 201, r.text
    ev = next(
        e for e in demo.services.queries.list("events", {})["data"] if e["uid"] == "puppy-party"
    )
    assert ev["capacity"] == 15 and ev["summary"] == "Puppy party"
    staff_view = demo.http("mia").get(f"{demo.dav}/mia/{SLUG}-events/puppy-party.ics")
    assert staff_view.status_code == 200 and "Puppy party" in staff_view.text
    assert manager.delete(f"{demo.dav}/manager/{SLUG}-blackouts/closed-day.ics").ok


def test_sync_collection_reports_only_changes_and_refuses_foreign_tokens(demo: DemoHub) -> None:
    leo = demo.http("leo")
    url = f"{demo.dav}/leo/busy/"
    first = leo.request("REPORT", url, data=SYNC_BODY.format(token=""), headers={"Depth": "1"})
    assert first.status_code == 207
    token = re.search(r"<(?:\w+:)?sync-token>([^<]+)<", first.text).group(1)
    start = datetime.now(UTC) + timedelta(days=25)
    assert leo.put(url + "sync-a.ics", data=_busy_ics("sync-a", start)).status_code == 201
    second = leo.request("REPORT", url, data=SYNC_BODY.format(token=token), headers={"Depth": "1"})
    assert second.status_code == 207
    assert len(re.findall(r"<(?:\w+:)?response>", second.text)) == 1 and "sync-a.ics" in second.text
    token2 = re.search(r"<(?:\w+:)?sync-token>([^<]+)<", second.text).group(1)
    assert leo.delete(url + "sync-a.ics").ok
    third = leo.request("REPORT", url, data=SYNC_BODY.format(token=token2), headers={"Depth": "1"})
    assert "sync-a.ics" in third.text and "404" in third.text
    foreign = leo.request(
        "REPORT", f"{demo.dav}/leo/schedule/", data=SYNC_BODY.format(token=token2)
    )
    assert foreign.status_code == 403 and "valid-sync-token" in foreign.text


def test_principal_property_search_finds_colleagues(demo: DemoHub) -> None:
    body = """<?xml version="1.0"?><D:principal-property-search xmlns:D="DAV:"
 xmlns:C="urn:ietf:params:xml:ns:caldav"><D:property-search><D:prop><D:displayname/></D:prop>
<D:match>groom</D:match></D:property-search><D:prop><D:displayname/>
<C:calendar-user-address-set/><C:calendar-home-set/></D:prop></D:principal-property-search>"""
    r = demo.http("leo").request("REPORT", f"{demo.dav}/", data=body, headers={"Depth": "0"})
    assert r.status_code == 207
    assert "/dav/mia/" in r.text and "mailto:mia@pawsome.example" in r.text
    assert "/dav/leo/" not in r.text
    props = demo.http("leo").request(
        "REPORT",
        f"{demo.dav}/",
        data='<D:principal-search-property-set xmlns:D="DAV:"/>',
    )
    assert props.status_code == 200 and "displayname" in props.text


def test_app_passwords_log_in_until_revoked(
    demo: DemoHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.cli import main

    url = demo.services.settings.effective_database_url()
    for key in [k for k in os.environ if k.startswith("CALHUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CALHUB_HOME", str(demo.services.settings.home))
    if url.startswith("postgresql"):
        monkeypatch.setenv("CALHUB_DATABASE_URL", url)
        monkeypatch.setenv("CALHUB_SECRET_KEY", "test-secret")
    assert main(["user", "app-password", "create", "leo", "iPhone"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    password = out[-1]
    ap_id = re.search(r"\(id (\w+)\)", out[0]).group(1)
    assert demo.http("leo", password).get(f"{demo.dav}/leo/busy/").status_code == 200
    assert main(["user", "app-password", "list", "leo"]) == 0
    listed = capsys.readouterr().out
    assert ap_id in listed and "iPhone" in listed and "active" in listed and password not in listed
    assert main(["user", "app-password", "revoke", ap_id]) == 0
    assert demo.http("leo", password).get(f"{demo.dav}/leo/busy/").status_code == 401
    assert demo.http("leo").get(f"{demo.dav}/leo/busy/").status_code == 200
    assert main(["user", "app-password", "list", "leo"]) == 0
    assert "revoked" in capsys.readouterr().out


def test_personal_calendars_can_be_created_coloured_and_deleted(demo: DemoHub) -> None:
    client = demo.client("leo")
    cal = client.principal().make_calendar(name="Side project", cal_id="side")
    cal.set_properties([ical_el.CalendarColor("#FF0000FF")])
    props = cal.get_properties([ical_el.CalendarColor()])
    assert "#FF0000FF" in props.values()
    cal.save_event(_busy_ics("side-1", datetime.now(UTC) + timedelta(days=2)))
    assert len(cal.events()) == 1
    cal.delete()
    assert "side" not in calendars_by_name(demo.client("leo"))


def test_expand_with_etag_and_data_answers_207(demo: DemoHub) -> None:
    """Radicale's expand+getetag pitfall: precomputed items keep it a 207, not a 500."""
    now = datetime.now(UTC)
    body = f"""<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data><C:expand start="{now:%Y%m%dT000000Z}"
 end="{now + timedelta(days=7):%Y%m%dT000000Z}"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="{now:%Y%m%dT000000Z}" end="{now + timedelta(days=7):%Y%m%dT000000Z}"/>
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"""
    for coll in (f"{SLUG}-shifts", f"{SLUG}-blackouts", f"{SLUG}-reservations"):
        r = demo.http("manager").request(
            "REPORT", f"{demo.dav}/manager/{coll}/", data=body, headers={"Depth": "1"}
        )
        assert r.status_code == 207, r.text[:300]
        assert "RRULE" not in r.text  # expanded
    shifts = demo.http("manager").request(
        "REPORT", f"{demo.dav}/manager/{SLUG}-shifts/", data=body, headers={"Depth": "1"}
    )
    assert shifts.text.count("BEGIN:VEVENT") >= 8 and "getetag" in shifts.text


def test_display_properties_stick_per_user_and_read_only_stays_read_only(demo: DemoHub) -> None:
    manager = demo.client("manager")
    res = calendars_by_name(manager)[f"{SLUG}-reservations"]
    res.set_properties([ical_el.CalendarColor("#00FF00FF"), dav_el.DisplayName("Bookings")])
    props = res.get_properties([ical_el.CalendarColor(), dav_el.DisplayName()])
    assert "#00FF00FF" in props.values() and "Bookings" in props.values()
    r = demo.http("mia").request(
        "PROPPATCH",
        f"{demo.dav}/mia/{SLUG}-events/",
        data='<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname>'
        "</D:prop></D:set></D:propertyupdate>",
    )
    assert r.status_code == 403
    # Another user's view of the same location keeps calhub's name.
    mia_events = calendars_by_name(demo.client("mia"))[f"{SLUG}-events"]
    assert "Special events" in mia_events.get_display_name()


def test_principal_offers_its_mailto_address(demo: DemoHub) -> None:
    r = demo.http("mia").request(
        "PROPFIND",
        f"{demo.dav}/mia/",
        headers={"Depth": "0"},
        data='<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop>'
        "<C:calendar-user-address-set/><C:calendar-home-set/><current-user-principal/>"
        "</prop></propfind>",
    )
    assert r.status_code == 207
    assert "mailto:mia@pawsome.example" in r.text and "/dav/mia/" in r.text
