"""Teamup and Zoho specifics: per-staff sub-calendars, key permissions, Zoho's 31-day ranges,
etags and description markers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hub.providers.base import AuthError, NotFoundError, RejectedError, RemoteRef
from hub.providers.teamup import TeamupConnector
from tests.providers.harness import TeamupHarness, ZohoHarness, outbound


@pytest.fixture
def tu() -> Iterator[TeamupHarness]:
    harness = TeamupHarness()
    yield harness
    harness.stop()


@pytest.fixture
def zo() -> Iterator[ZohoHarness]:
    harness = ZohoHarness()
    yield harness
    harness.stop()


def test_teamup_files_each_staff_members_bookings_in_their_subcalendar(tu: TeamupHarness) -> None:
    c = tu.connector(
        subcalendarId=None, subcalendarMap={"res-ada": tu.sub, "res-bob": tu.other_sub}
    )
    ada = c.push(outbound(resource_ids=("res-ada",)), None)
    bob = c.push(outbound(resource_ids=("res-bob", "table-4")), None)
    stored = {e["id"]: e["subcalendar_ids"] for e in tu.server.events()}
    assert stored[ada.remote_id] == [tu.sub]
    assert stored[bob.remote_id] == [tu.other_sub]
    with pytest.raises(RejectedError, match="sub-calendar"):
        c.push(outbound(resource_ids=("res-unmapped",)), None)
    # A personal event in Bob's sub-calendar blocks Bob, not the whole location.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    dentist = tu.server.user_create(tu.other_sub, "Dentist", start, start + timedelta(hours=1))
    got = {e.remote_id: e for e in c.pull({}).changes}
    assert got[dentist].resource_ids == ("res-bob",)
    assert got[ada.remote_id].resource_ids == ("res-ada",)


def test_teamup_pull_ignores_other_staff_and_treats_a_move_away_as_removal(
    tu: TeamupHarness,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    mine = tu.user_create("Vet visit", start, start + timedelta(hours=1))
    theirs = tu.server.user_create(tu.other_sub, "Bob's day off", start, start + timedelta(hours=8))
    first = tu.connector().pull({})
    ids = {c.remote_id for c in first.changes}
    assert mine in ids and theirs not in ids
    tu.server.user_update(mine, subcalendar_ids=[tu.other_sub])
    second = {c.remote_id: c for c in tu.connector().pull(first.cursor).changes}
    assert second[mine].deleted
    # Other staff's events never come back as live ones (at most as removals nobody had).
    assert all(c.deleted for c in second.values())


def test_teamup_key_problems_are_explained(tu: TeamupHarness) -> None:
    tu.server.readonly_keys.add("ks-readonly")
    with pytest.raises(AuthError, match="permission"):
        tu.connector(calendarKey="ks-readonly").push(outbound(), None)
    with pytest.raises(NotFoundError, match="calendar_not_found"):
        tu.connector(calendarKey="ks-deleted").pull({})
    with pytest.raises(RejectedError, match="calendarKey"):
        TeamupConnector({}, {"apiKey": "x"}, None)  # type: ignore[arg-type]


def test_teamup_update_after_a_remote_edit_writes_calhubs_state(tu: TeamupHarness) -> None:
    ev = outbound()
    res = tu.connector().push(ev, None)
    tu.server.user_update(res.remote_id, title="edited in Teamup")
    res2 = tu.connector().push(ev, RemoteRef(res.remote_id, res.etag))
    assert res2.etag != res.etag
    assert tu.ours(ev.entity_id)[0]["title"] == ev.summary


def test_zoho_lists_long_windows_in_31_day_slices(zo: ZohoHarness) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=200)
    far = zo.user_create("Far future", start, start + timedelta(hours=1))
    result = zo.connector(windowFutureDays=365, windowPastDays=30).pull({})
    assert far in {c.remote_id for c in result.changes}
    assert zo.server.count("GET", "/events") >= 13  # 395 days / 30-day slices


def test_zoho_marker_survives_and_identifies_our_events(zo: ZohoHarness) -> None:
    ev = outbound(description="Ada — window seat")
    res = zo.connector().push(ev, None)
    stored = next(e for e in zo.server.events(zo.cal) if e["uid"] == res.remote_id)
    assert stored["description"].startswith("Ada — window seat")
    assert stored["dateandtime"]["start"] == ev.start.strftime("%Y%m%dT%H%M%SZ")
    got = {c.remote_id: c for c in zo.connector().pull({}).changes}
    assert got[res.remote_id].calhub_id == ev.entity_id


def test_zoho_delete_with_stale_etag_still_deletes(zo: ZohoHarness) -> None:
    ev = outbound()
    res = zo.connector().push(ev, None)
    zo.server.user_update(zo.cal, res.remote_id, title="touched")
    zo.connector().delete(RemoteRef(res.remote_id, res.etag))
    assert zo.ours(ev.entity_id) == []


def test_zoho_unknown_calendar_is_not_found(zo: ZohoHarness) -> None:
    with pytest.raises(NotFoundError):
        zo.connector(calendarUid="gone==").pull({})


def test_zoho_domain_picks_the_data_centre() -> None:
    from hub.providers.http import make_session
    from hub.providers.zoho import ZohoConnector

    c = ZohoConnector({"calendarUid": "cal==", "domain": "zoho.eu"}, {}, make_session())
    assert c.events_url == "https://calendar.zoho.eu/api/v1/calendars/cal%3D%3D/events"
    assert c.oauth.token_url == "https://accounts.zoho.eu/oauth/v2/token"


def test_zoho_long_texts_are_cut_to_its_limits_keeping_our_marker(zo: ZohoHarness) -> None:
    ev = outbound(description="x" * 20000, location="y" * 400)
    res = zo.connector().push(ev, None)
    got = {c.remote_id: c for c in zo.connector().pull({}).changes}
    assert got[res.remote_id].calhub_id == ev.entity_id
