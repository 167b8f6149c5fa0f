"""The connector contract, run over every provider against its simulator or a real server.

Each test states what a calendar owner would see on the remote side (or what the sync engine
relies on): one remote event per object however often a push is retried, edits and deletions
both ways, resumable cursors, and vendor failures arriving as the four error kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.providers.base import (
    AuthError,
    PullResult,
    RemoteRef,
    TransientError,
)
from tests.providers.harness import HARNESSES, Harness, outbound, running

ALL = list(HARNESSES)
OAUTH = [n for n, cls in HARNESSES.items() if getattr(cls, "oauth", False)]


@pytest.fixture(params=ALL)
def h(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with running(request.param) as harness:
        yield harness


@pytest.fixture(params=OAUTH)
def oh(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Only the OAuth 2 providers."""
    with running(request.param) as harness:
        yield harness


def _by_id(result: PullResult) -> dict[str, object]:
    return {c.remote_id: c for c in result.changes}


def _soon(hours: int = 50) -> datetime:
    return datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(hours=hours)


def test_push_creates_one_remote_event_carrying_our_id(h: Harness) -> None:
    ev = outbound()
    res = h.connector().push(ev, None)
    remote = h.ours(ev.entity_id)
    assert [r["id"] for r in remote] == [res.remote_id]
    assert remote[0]["title"].endswith(ev.summary)
    pulled = _by_id(h.connector().pull({}))
    mine = pulled[res.remote_id]
    assert (mine.calhub_entity, mine.calhub_id) == ("reservation", ev.entity_id)  # type: ignore[attr-defined]
    assert mine.start == ev.start and mine.end == ev.end  # type: ignore[attr-defined]


def test_pulled_version_of_our_own_write_matches_the_push_result(h: Harness) -> None:
    # Loop prevention rests on this: the echo of calhub's own write is recognisable by etag.
    ev = outbound()
    created = h.connector().push(ev, None)
    first = h.connector().pull({})
    assert _by_id(first)[created.remote_id].etag == created.etag  # type: ignore[attr-defined]
    updated = h.connector().push(
        replace(ev, version=2, summary="v2"), RemoteRef(created.remote_id, created.etag)
    )
    echo = _by_id(h.connector().pull(first.cursor))
    assert updated.etag and updated.etag != created.etag
    assert echo[updated.remote_id].etag == updated.etag  # type: ignore[attr-defined]


def test_retried_create_makes_no_duplicate(h: Harness) -> None:
    ev = outbound()
    first = h.connector().push(ev, None)
    # The engine never heard back (crash, timeout) and pushes the same change again.
    again = h.connector().push(ev, None)
    assert again.remote_id == first.remote_id
    assert len(h.ours(ev.entity_id)) == 1


def test_create_whose_answer_was_lost_to_a_timeout_is_not_duplicated(h: Harness) -> None:
    if not h.faults:
        pytest.skip("the real server cannot be told to hang")
    ev = outbound()
    h.fail_next("timeout", method=h.create_method)  # stored, but the answer never comes
    with pytest.raises(TransientError):
        h.connector().push(ev, None)
    assert len(h.ours(ev.entity_id)) == 1
    h.connector().push(ev, None)
    assert len(h.ours(ev.entity_id)) == 1


def test_update_moves_the_remote_event(h: Harness) -> None:
    ev = outbound()
    c = h.connector()
    res = c.push(ev, None)
    moved = replace(
        ev,
        version=2,
        sequence=1,
        summary="Table 5 — Ada (3 guests)",
        start=ev.start + timedelta(hours=3),
        end=ev.end + timedelta(hours=3),
    )
    res2 = h.connector().push(moved, RemoteRef(res.remote_id, res.etag))
    remote = h.ours(ev.entity_id)
    assert len(remote) == 1 and remote[0]["id"] == res2.remote_id
    assert remote[0]["title"].endswith("Table 5 — Ada (3 guests)")
    assert (
        remote[0]["start"]
        .replace("-", "")
        .replace(":", "")
        .startswith(moved.start.strftime("%Y%m%dT%H%M"))
    )


def test_update_with_an_outdated_version_still_lands(h: Harness) -> None:
    ev = outbound()
    res = h.connector().push(ev, None)
    second = h.connector().push(
        replace(ev, version=2, summary="v2"), RemoteRef(res.remote_id, res.etag)
    )
    # The engine retries with the etag it had before the second write (its bookkeeping lagged).
    h.connector().push(replace(ev, version=3, summary="v3"), RemoteRef(res.remote_id, res.etag))
    remote = h.ours(ev.entity_id)
    assert len(remote) == 1 and remote[0]["title"].endswith("v3")
    assert second.remote_id == remote[0]["id"]


def test_update_of_an_event_deleted_remotely_puts_it_back(h: Harness) -> None:
    ev = outbound()
    res = h.connector().push(ev, None)
    h.user_delete(res.remote_id)
    assert h.ours(ev.entity_id) == []
    h.connector().push(replace(ev, version=2), RemoteRef(res.remote_id, res.etag))
    assert len(h.ours(ev.entity_id)) == 1


def test_delete_removes_and_a_missing_event_counts_as_deleted(h: Harness) -> None:
    ev = outbound()
    res = h.connector().push(ev, None)
    h.connector().delete(RemoteRef(res.remote_id, res.etag))
    assert h.ours(ev.entity_id) == []
    h.connector().delete(RemoteRef(res.remote_id, res.etag))  # no error


def test_pull_full_then_incremental_sees_remote_create_move_delete(h: Harness) -> None:
    ours = outbound()
    c = h.connector()
    pushed = c.push(ours, None)
    dentist = h.user_create("Dentist", _soon(30), _soon(31))
    gym = h.user_create("Gym", _soon(60), _soon(61))

    first = c.pull({})
    assert first.full
    got = _by_id(first)
    assert {pushed.remote_id, dentist, gym} <= set(got)
    assert got[dentist].calhub_id is None and got[dentist].summary == "Dentist"  # type: ignore[attr-defined]
    assert got[pushed.remote_id].calhub_id == ours.entity_id  # type: ignore[attr-defined]

    nothing = c.pull(first.cursor)
    assert not nothing.full
    assert {ch.remote_id for ch in nothing.changes} <= {pushed.remote_id, dentist, gym}

    lunch = h.user_create("Lunch", _soon(40), _soon(41))
    h.user_move(dentist, _soon(33), _soon(34))
    h.user_delete(gym)
    second = h.connector().pull(nothing.cursor)
    assert not second.full
    changed = _by_id(second)
    assert changed[lunch].summary == "Lunch" and not changed[lunch].deleted  # type: ignore[attr-defined]
    assert changed[dentist].start == _soon(33)  # type: ignore[attr-defined]
    if h.incremental_deletes:
        assert changed[gym].deleted  # type: ignore[attr-defined]
    else:
        full = h.connector(fullEvery=0).pull(second.cursor)
        assert full.full and gym not in _by_id(full)


def test_stale_cursor_falls_back_to_a_full_listing(h: Harness) -> None:
    c = h.connector()
    dentist = h.user_create("Dentist", _soon(30), _soon(31))
    first = c.pull({})
    result = h.connector().pull(h.stale_cursor(first.cursor))
    assert result.full
    assert dentist in _by_id(result)
    # ...and the fresh cursor works incrementally again
    assert not h.connector().pull(result.cursor).full


def test_expired_access_token_is_refreshed_and_stored(oh: Harness) -> None:
    old = oh.credentials["accessToken"]
    oh.expire_tokens()
    ev = outbound()
    oh.connector().push(ev, None)
    assert len(oh.ours(ev.entity_id)) == 1
    assert oh.saved and oh.saved[-1]["accessToken"] != old
    assert oh.saved[-1]["refreshToken"]


def test_refresh_happens_before_expiry_without_a_failed_call(oh: Harness) -> None:
    oh.credentials["expiresAt"] = int(datetime.now(UTC).timestamp()) + 5  # about to expire
    oh.connector().pull({})
    assert len(oh.saved) == 1
    assert oh.server.statuses and 401 not in oh.server.statuses  # type: ignore[attr-defined]


def test_two_workers_refreshing_the_same_grant_both_keep_working(oh: Harness) -> None:
    oh.expire_tokens()
    snapshot = dict(oh.credentials)
    a = oh.connector()
    b = type(a)(dict(oh.config), dict(snapshot), a.http, lambda _c: None)
    a.push(outbound(), None)
    b.push(outbound(), None)  # refreshes with the same (old) refresh token: still valid
    assert oh.server.tokens.refreshes == 2  # type: ignore[attr-defined]


def test_revoked_grant_is_an_auth_error_with_a_reason(h: Harness) -> None:
    h.revoke()
    if h.oauth:
        h.expire_tokens()
    with pytest.raises(AuthError) as info:
        h.connector().push(outbound(), None)
    assert str(info.value)
    with pytest.raises(AuthError):
        h.connector().pull({})


def test_rate_limit_is_transient_with_retry_after(h: Harness) -> None:
    if not h.faults:
        pytest.skip("the real server cannot be told to fail")
    h.fail_next("429", retry_after=7)
    with pytest.raises(TransientError) as info:
        h.connector().push(outbound(), None)
    assert info.value.retry_after == 7
    assert info.value.status == 429
    h.fail_next("500")
    with pytest.raises(TransientError) as info2:
        h.connector().pull({})
    assert info2.value.status == 500


def test_retrying_through_random_faults_leaves_exactly_one_event_per_object(h: Harness) -> None:
    if not h.faults:
        pytest.skip("the real server cannot be told to fail")
    h.fail_randomly(0.3, seed=6)
    state: dict[str, tuple[object, RemoteRef | None]] = {}
    events = [outbound(summary=f"Booking {i}") for i in range(8)]
    plan = [(e, "create") for e in events] + [(e, "update") for e in events[:5]]
    plan += [(e, "delete") for e in events[5:7]]
    for ev, op in plan:
        for _attempt in range(30):  # what the engine's retry loop does, minus the sleeping
            try:
                ref = state.get(ev.entity_id, (None, None))[1]
                c = h.connector()
                if op == "delete":
                    if ref is not None:
                        c.delete(ref)
                    state[ev.entity_id] = ("deleted", None)
                else:
                    final = (
                        replace(ev, version=2, summary=ev.summary + " (moved)")
                        if op == "update"
                        else ev
                    )
                    res = c.push(final, ref)
                    state[ev.entity_id] = (final, RemoteRef(res.remote_id, res.etag))
                break
            except TransientError:
                continue
        else:
            pytest.fail(f"{op} never succeeded")
    injected = h.server.faults.injected  # type: ignore[attr-defined]
    h.fail_randomly(0.0, seed=0)
    assert injected > 3
    for i, ev in enumerate(events):
        remote = h.ours(ev.entity_id)
        if i in (5, 6):
            assert remote == []
        else:
            assert len(remote) == 1, (i, remote)
            want = ev.summary + (" (moved)" if i < 5 else "")
            assert remote[0]["title"].endswith(want)
