"""Remote CalDAV specifics against a stock Radicale: ETag polling when sync-collection is off,
calendar lookup by name, foreign iCalendar text, presets, and a vanished calendar/server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hub.providers import REGISTRY
from hub.providers.base import NotFoundError, RejectedError, TransientError
from hub.providers.caldav_remote import CalDAVConnector, NextcloudConnector
from hub.providers.http import make_session
from tests.providers.harness import CalDAVHarness, outbound
from tests.support import free_port


@pytest.fixture
def cd() -> Iterator[CalDAVHarness]:
    harness = CalDAVHarness()
    yield harness
    harness.stop()


def _at(days: int, hour: int = 10) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def test_etag_polling_when_sync_collection_is_not_offered(cd: CalDAVHarness) -> None:
    c = cd.connector(syncCollection=False)
    ours = c.push(outbound(), None)
    dentist = cd.user_create("Dentist", _at(1), _at(1, 11))
    gym = cd.user_create("Gym", _at(2), _at(2, 11))
    first = c.pull({})
    assert first.full and first.cursor["mode"] == "etag"
    assert {ours.remote_id, dentist, gym} == {ch.remote_id for ch in first.changes}
    assert first.cursor["ctag"]
    unchanged = cd.connector(syncCollection=False).pull(first.cursor)
    assert unchanged.changes == [] and not unchanged.full
    cd.user_move(dentist, _at(3), _at(3, 11))
    cd.user_delete(gym)
    second = cd.connector(syncCollection=False).pull(unchanged.cursor)
    got = {ch.remote_id: ch for ch in second.changes}
    assert set(got) == {dentist, gym}
    assert got[dentist].start == _at(3) and got[gym].deleted


def test_foreign_events_carry_their_icalendar_text(cd: CalDAVHarness) -> None:
    path = cd.user_create("Piano lesson", _at(1), _at(1, 11))
    got = {ch.remote_id: ch for ch in cd.connector().pull({}).changes}
    ev = got[path]
    assert ev.calhub_id is None and ev.busy
    assert ev.ical and "SUMMARY:Piano lesson" in ev.ical and "BEGIN:VEVENT" in ev.ical


def test_calendar_found_by_display_name(cd: CalDAVHarness) -> None:
    home = cd.server.url + "/staff/"
    c = cd.connector(calendarUrl=None, calendarName="Work", url=home)
    res = c.push(outbound(), None)
    assert res.remote_id.startswith(cd.cal_url.replace(cd.radicale.url.rstrip("/"), ""))
    with pytest.raises(NotFoundError, match="Holidays"):
        cd.connector(calendarUrl=None, calendarName="Holidays", url=home).pull({})


def test_hrefs_are_deterministic_per_object(cd: CalDAVHarness) -> None:
    ev = outbound()
    a = cd.connector().push(ev, None)
    b = cd.connector().push(ev, None)
    assert a.remote_id == b.remote_id
    assert a.remote_id.endswith(CalDAVConnector.href_for(ev))


def test_presets_fill_in_provider_urls() -> None:
    session = make_session()
    nc = REGISTRY["caldav"](
        {"preset": "nextcloud", "url": "https://cloud.example.org"}, {}, session
    )
    assert nc.url == "https://cloud.example.org/remote.php/dav/"  # type: ignore[attr-defined]
    assert NextcloudConnector({"url": "https://c.example"}, {}, session).url.endswith(
        "/remote.php/dav/"
    )
    icloud = REGISTRY["caldav"]({"preset": "icloud"}, {}, session)
    assert icloud.url == "https://caldav.icloud.com/"  # type: ignore[attr-defined]
    zoho = REGISTRY["caldav"]({"preset": "zoho"}, {}, session)
    assert zoho.sync_collection is False  # type: ignore[attr-defined]
    with pytest.raises(RejectedError, match="url"):
        REGISTRY["caldav"]({}, {}, session)


def test_a_deleted_calendar_is_not_found(cd: CalDAVHarness) -> None:
    c = cd.connector()
    first = c.pull({})
    import requests

    requests.delete(cd.cal_url, auth=(cd.radicale.user, cd.radicale.password), timeout=10)
    with pytest.raises(NotFoundError):
        cd.connector().pull(first.cursor)


def test_an_unreachable_server_is_transient() -> None:
    port = free_port()
    c = REGISTRY["caldav"](
        {"url": f"http://127.0.0.1:{port}/", "calendarUrl": f"http://127.0.0.1:{port}/x/cal/"},
        {"username": "u", "password": "p"},
        make_session(),
    )
    with pytest.raises(TransientError):
        c.push(outbound(), None)


def test_our_uid_already_stored_elsewhere_is_taken_over_not_duplicated(cd: CalDAVHarness) -> None:
    ev = outbound()
    copy = cd.radicale.put(cd.cal_url, "phone-copy.ics", cd._ical(ev.uid, "copy", ev.start, ev.end))
    res = cd.connector().push(ev, None)
    assert res.remote_id == copy
    assert len(cd.radicale.list(cd.cal_url)) == 1
    assert cd.ours(ev.entity_id)[0]["title"] == ev.summary


def test_put_into_a_deleted_calendar_is_not_found(cd: CalDAVHarness) -> None:
    import requests

    requests.delete(cd.cal_url, auth=(cd.radicale.user, cd.radicale.password), timeout=10)
    with pytest.raises(NotFoundError):
        cd.connector().push(outbound(), None)
