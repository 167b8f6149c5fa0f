"""calhub's CalDAV face against stock Radicale 3.9 (multifilesystem) on the same events.

Loads the same events (single ones plus weekly recurring ones with an EXDATE and a moved
occurrence) into a staff member's ``busy`` calendar in calhub and into a stock Radicale
calendar, then measures, each server in its own process:

- a one-week calendar-query REPORT, plain and with <C:expand>;
- a PROPFIND Depth 1 (ETags of the whole calendar);
- a sync-collection REPORT after one change;
- PUT latency and throughput;
- one-week REPORTs per second served to 8 concurrent clients;

and, for calhub, the sync-collection time and PUT latency at other sizes (flat is the goal).

    .venv/bin/python bench/caldav_vs_radicale.py [--size 10000] [--flat 1000,50000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.caldav.tester_compare import STOCK_SERVER  # noqa: E402
from tests.support import free_port  # noqa: E402

BASE = datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday
WEEK = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 8, tzinfo=UTC))
USER, PASSWORD = "bench", "bench-password"
REPEAT = 5


def event_text(i: int) -> tuple[str, str]:
    """(uid, iCalendar) of event ``i``: every 10th is weekly recurring with exceptions."""
    uid = f"bench-{i:06d}"
    stamp = "DTSTAMP:20260101T000000Z\r\n"
    if i % 10 == 0:
        # Spread over about two years, ten weeks each: ~100 live series in any week at 10,000.
        start = BASE + timedelta(weeks=(i // 10) % 104, days=(i // 10) % 7, hours=(i // 70) % 8)
        exdate = start + timedelta(weeks=3)
        moved_from = start + timedelta(weeks=5)
        moved_to = moved_from + timedelta(hours=2)
        body = (
            f"BEGIN:VEVENT\r\nUID:{uid}\r\n{stamp}DTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
            f"RRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE:{exdate:%Y%m%dT%H%M%SZ}\r\n"
            f"SUMMARY:Weekly {i}\r\nEND:VEVENT\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\n{stamp}RECURRENCE-ID:{moved_from:%Y%m%dT%H%M%SZ}\r\n"
            f"DTSTART:{moved_to:%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{moved_to + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
            f"SUMMARY:Weekly {i} (moved)\r\nEND:VEVENT\r\n"
        )
    else:
        # Spread single events over about two years: ~100 per week at 10,000 events.
        start = BASE + timedelta(hours=(i * 37) % (24 * 7 * 104))
        body = (
            f"BEGIN:VEVENT\r\nUID:{uid}\r\n{stamp}DTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{start + timedelta(minutes=45):%Y%m%dT%H%M%SZ}\r\n"
            f"SUMMARY:Event {i}\r\nEND:VEVENT\r\n"
        )
    text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{body}END:VCALENDAR\r\n"
    return uid, text


# ---- servers ----------------------------------------------------------------------------------


def start_radicale(n: int, tmp: Path) -> tuple[str, subprocess.Popen[bytes], tuple[str, str]]:
    """Stock Radicale with ``n`` events written straight into its multifilesystem folder."""
    folder = tmp / "radicale"
    cal = folder / "collection-root" / USER / "busy"
    cal.mkdir(parents=True)
    (cal / ".Radicale.props").write_text('{"tag": "VCALENDAR"}')
    for i in range(n):
        uid, text = event_text(i)
        (cal / f"{uid}.ics").write_text(text, newline="")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", STOCK_SERVER, str(port), str(folder)])
    url = f"http://127.0.0.1:{port}/{USER}/busy/"
    wait_up(url, (USER, PASSWORD))
    return url, proc, (USER, PASSWORD)


def start_calhub(n: int, tmp: Path) -> tuple[str, subprocess.Popen[bytes], tuple[str, str]]:
    """calhub with ``n`` events imported through the booking command layer, served by
    ``calhub serve`` in its own process."""
    import radicale.item as radicale_item

    from hub.booking.busy import ItemIndex
    from hub.booking.dav_read import from_ts
    from hub.config import Settings
    from hub.services import build_services

    home = tmp / "calhub"
    home.mkdir()
    settings = Settings(home=home, secret_key="bench-secret-key", base_url="http://127.0.0.1")
    services = build_services(settings)
    user = services.booking.add_user(USER, "manager", PASSWORD)
    batch: list[tuple[str, str, ItemIndex]] = []
    for i in range(n):
        uid, text = event_text(i)
        item = radicale_item.Item(collection_path=f"{USER}/busy", text=text)
        item.prepare()
        start, end = item.time_range
        batch.append(
            (
                f"{uid}.ics",
                item.serialize(),
                ItemIndex(uid, item.etag, item.component_name, from_ts(start), from_ts(end)),
            )
        )
        if len(batch) == 2000:
            services.booking.import_personal_items(user["id"], "busy", batch)
            batch = []
    if batch:
        services.booking.import_personal_items(user["id"], "busy", batch)
    services.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALHUB_")}
    env.update(
        CALHUB_HOME=str(home), CALHUB_SECRET_KEY="bench-secret-key", CALHUB_LOG_LEVEL="WARNING"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/dav/{USER}/busy/"
    wait_up(url, (USER, PASSWORD))
    return url, proc, (USER, PASSWORD)


def wait_up(url: str, auth: tuple[str, str]) -> None:
    """Wait until the server answers (and warm it up with one full listing)."""
    for _ in range(600):
        try:
            requests.request("PROPFIND", url, auth=auth, headers={"Depth": "1"}, timeout=600)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# ---- measurements -----------------------------------------------------------------------------

QUERY = """<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data{expand}</C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""
SYNC = """<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>
<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"""


def timed(
    fn: Callable[[], requests.Response], repeat: int = REPEAT
) -> tuple[float, requests.Response]:
    """Median seconds of ``fn`` over ``repeat`` runs, and the last response."""
    times = []
    r = None
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        times.append(time.perf_counter() - t)
        assert r.status_code < 300, (r.status_code, r.text[:500])
    assert r is not None
    return statistics.median(times), r


def week_query(s: requests.Session, url: str, expand: bool) -> requests.Response:
    start, end = (f"{d:%Y%m%dT%H%M%SZ}" for d in WEEK)
    body = QUERY.format(
        expand=f'><C:expand start="{start}" end="{end}"/>' if expand else ">",
        start=start,
        end=end,
    )
    return s.request("REPORT", url, data=body, headers={"Depth": "1"})


def measure(
    url: str, auth: tuple[str, str], label: str, n: int, full: bool = True
) -> dict[str, float]:
    """Every figure for one server."""
    s = requests.Session()
    s.auth = auth
    out: dict[str, float] = {}
    if full:
        out["report"], r = timed(lambda: week_query(s, url, False))
        out["report_hits"] = r.text.count("BEGIN:VEVENT")
        out["expand"], r = timed(lambda: week_query(s, url, True))
        out["expand_hits"] = r.text.count("BEGIN:VEVENT")
        out["propfind"], r = timed(
            lambda: s.request(
                "PROPFIND",
                url,
                headers={"Depth": "1"},
                data='<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
            ),
            repeat=3,
        )
    first = s.request("REPORT", url, data=SYNC.format(token=""), headers={"Depth": "1"})
    token = re.search(r"<(?:\w+:)?sync-token>([^<]+)<", first.text).group(1)
    syncs = []
    for k in range(REPEAT):
        uid, text = event_text(10**6 + k)
        assert s.put(f"{url}{uid}.ics", data=text).status_code == 201
        t = time.perf_counter()
        r = s.request("REPORT", url, data=SYNC.format(token=token), headers={"Depth": "1"})
        syncs.append(time.perf_counter() - t)
        assert r.status_code == 207 and f"{uid}.ics" in r.text
        token = re.search(r"<(?:\w+:)?sync-token>([^<]+)<", r.text).group(1)
    out["sync"] = statistics.median(syncs)
    puts = 30
    t = time.perf_counter()
    lat = []
    for k in range(puts):
        uid, text = event_text(2 * 10**6 + k)
        t1 = time.perf_counter()
        assert s.put(f"{url}{uid}.ics", data=text).status_code == 201
        lat.append(time.perf_counter() - t1)
    out["put_latency"] = statistics.median(lat)
    out["put_per_s"] = puts / (time.perf_counter() - t)
    if full:
        out["reports_per_s_8"] = concurrent_reports(url, auth, seconds=8)
    print(
        f"{label:>16s} n={n:>6d}  "
        + "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in out.items()),
        flush=True,
    )
    return out


def concurrent_reports(url: str, auth: tuple[str, str], seconds: float) -> float:
    """One-week REPORTs per second served to 8 clients at once."""
    done = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        s = requests.Session()
        s.auth = auth
        while time.monotonic() < stop:
            r = week_query(s, url, False)
            assert r.status_code == 207
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=client) for _ in range(8)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return done[0] / (time.monotonic() - t)


def main() -> int:
    """Load, measure, print figures and ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=10_000, help="events in the head-to-head run")
    p.add_argument("--flat", default="1000,50000", help="other calhub sizes for flatness")
    args = p.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, starter in (("stock Radicale", start_radicale), ("calhub", start_calhub)):
            work = Path(tmp) / f"{name.split()[-1]}-{args.size}"
            work.mkdir()
            t = time.perf_counter()
            url, proc, auth = starter(args.size, work)
            print(
                f"loaded {args.size} events into {name} in {time.perf_counter() - t:.1f} s",
                flush=True,
            )
            try:
                results[name] = measure(url, auth, name, args.size)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        flat = {args.size: results["calhub"]}
        for size in [int(x) for x in args.flat.split(",") if x]:
            work = Path(tmp) / f"calhub-{size}"
            work.mkdir()
            t = time.perf_counter()
            url, proc, auth = start_calhub(size, work)
            print(
                f"loaded {size} events into calhub in {time.perf_counter() - t:.1f} s", flush=True
            )
            try:
                flat[size] = measure(url, auth, "calhub", size, full=False)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    stock, hub = results["stock Radicale"], results["calhub"]
    print()
    print(f"at {args.size} events (stock Radicale / calhub; goal ≥ 10× for the first three):")
    for key, label in (
        ("report", "one-week REPORT"),
        ("expand", "one-week REPORT with expand"),
        ("sync", "sync-collection after one change"),
        ("propfind", "PROPFIND Depth 1"),
        ("put_latency", "PUT latency"),
    ):
        print(
            f"  {label:34s} {stock[key] * 1000:9.1f} ms  {hub[key] * 1000:9.1f} ms"
            f"  ratio {stock[key] / hub[key]:6.1f}×"
        )
    print(
        f"  {'PUT throughput':34s} {stock['put_per_s']:9.1f} /s  {hub['put_per_s']:9.1f} /s"
        f"  ratio {hub['put_per_s'] / stock['put_per_s']:6.1f}× (goal ≥ 1×)"
    )
    print(
        f"  {'one-week REPORTs/s, 8 clients':34s} {stock['reports_per_s_8']:9.1f} /s"
        f"  {hub['reports_per_s_8']:9.1f} /s  ratio {hub['reports_per_s_8'] / stock['reports_per_s_8']:6.1f}×"
    )
    print(
        f"  events returned: REPORT {stock['report_hits']:.0f} / {hub['report_hits']:.0f}, "
        f"expand {stock['expand_hits']:.0f} / {hub['expand_hits']:.0f}"
    )
    print()
    print("calhub flatness (goal: within 2× from the smallest to the largest size):")
    sizes = sorted(flat)
    for key, label in (
        ("sync", "sync-collection after one change"),
        ("put_latency", "PUT latency"),
    ):
        row = "  ".join(f"{sz}: {flat[sz][key] * 1000:.1f} ms" for sz in sizes)
        spread = max(flat[sz][key] for sz in sizes) / min(flat[sz][key] for sz in sizes)
        print(f"  {label:34s} {row}  max/min {spread:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
