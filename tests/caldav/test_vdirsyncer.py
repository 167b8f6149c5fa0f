"""vdirsyncer syncs a staff member's busy calendar both ways: create, edit, delete, no conflict,
no duplicate (the real vdirsyncer CLI against the live hub)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tests.caldav.conftest import DemoHub

VDIRSYNCER = str(Path(sys.executable).parent / "vdirsyncer")


def event(uid: str, summary: str, days: int) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//vdirsyncer test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def server_items(demo: DemoHub) -> dict[str, str]:
    """{uid: text} of every object in leo's busy calendar, via a calendar-query."""
    body = (
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        '<D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/>'
        "</C:filter></C:calendar-query>"
    )
    r = requests.request(
        "REPORT",
        f"{demo.dav}/leo/busy/",
        data=body,
        headers={"Depth": "1"},
        auth=("leo", "calhub-demo"),
        timeout=30,
    )
    assert r.status_code == 207
    out = {}
    for chunk in r.text.split("BEGIN:VEVENT")[1:]:
        uid = chunk.split("UID:", 1)[1].split("\n", 1)[0].strip()
        out[uid] = chunk
    return out


def run(config: Path, *args: str) -> str:
    proc = subprocess.run(
        [VDIRSYNCER, "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        input="y\n" * 5,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "conflict" not in output.lower(), output
    return output


def test_vdirsyncer_two_way_sync_of_a_busy_calendar(demo: DemoHub, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    config = tmp_path / "config"
    config.write_text(
        f"""[general]
status_path = "{tmp_path / "status"}/"

[pair busy]
a = "busy_local"
b = "busy_remote"
collections = null

[storage busy_local]
type = "filesystem"
path = "{local}/"
fileext = ".ics"

[storage busy_remote]
type = "caldav"
url = "{demo.dav}/leo/busy/"
username = "leo"
password = "calhub-demo"
"""
    )
    leo = demo.http("leo")
    # Created on the server (as a phone would) …
    assert leo.put(f"{demo.dav}/leo/busy/vds-server.ics", data=event("vds-server", "Gym", 3)).ok
    run(config, "discover")
    run(config, "sync")
    files = {p.name: p.read_text() for p in local.glob("*.ics")}
    assert len(files) == 1 and "Gym" in next(iter(files.values()))
    # … created locally …
    (local / "vds-local.ics").write_text(event("vds-local", "Doctor", 4))
    run(config, "sync")
    items = server_items(demo)
    assert set(items) == {"vds-server", "vds-local"} and "Doctor" in items["vds-local"]
    # … edited on both sides (different items) …
    (local / "vds-local.ics").write_text(event("vds-local", "Doctor (moved)", 5))
    server_file = next(p for p in local.glob("*.ics") if "vds-server" in p.read_text())
    assert leo.put(
        f"{demo.dav}/leo/busy/vds-server.ics", data=event("vds-server", "Gym at 7", 3)
    ).ok
    run(config, "sync")
    items = server_items(demo)
    assert "Doctor (moved)" in items["vds-local"]
    assert "Gym at 7" in server_file.read_text()
    # … and deleted on both sides.
    (local / "vds-local.ics").unlink()
    assert leo.delete(f"{demo.dav}/leo/busy/vds-server.ics").ok
    run(config, "sync")
    assert server_items(demo) == {}
    assert list(local.glob("*.ics")) == []
    # A second sync with nothing new changes nothing and duplicates nothing.
    run(config, "sync")
    assert server_items(demo) == {} and list(local.glob("*.ics")) == []
