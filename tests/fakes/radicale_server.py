"""A real, stock Radicale server (no calhub plugin) on 127.0.0.1 for remote-CalDAV tests.

Runs ``radicale.server.serve`` in a daemon thread over a temporary multifilesystem folder with
htpasswd (plain) auth, so wrong or changed passwords really answer 401.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

from tests.support import free_port


class RadicaleServer:
    """Stock Radicale with one user; ``make_calendar`` creates fresh collections."""

    def __init__(self, user: str = "staff", password: str = "s3cret") -> None:
        self.user = user
        self.password = password
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self._tmp = tempfile.TemporaryDirectory(prefix="radicale-")
        self.htpasswd = Path(self._tmp.name) / "users"
        self.set_password(password)
        self._sock_a: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def set_password(self, password: str) -> None:
        """Change the user's password (a revoked app password, for the connector)."""
        self.password = password
        self.htpasswd.write_text(f"{self.user}:{password}\n")

    def start(self) -> RadicaleServer:
        """Serve in a background thread and wait until it answers."""
        import radicale.config
        import radicale.server

        conf = radicale.config.load("")
        conf.update(
            {
                "server": {"hosts": f"127.0.0.1:{self.port}"},
                "storage": {"filesystem_folder": str(Path(self._tmp.name) / "collections")},
                "auth": {
                    "type": "htpasswd",
                    "htpasswd_filename": str(self.htpasswd),
                    "htpasswd_encryption": "plain",
                    "delay": "0",
                    "cache_logins": "False",
                },
                "logging": {"level": "error", "mask_passwords": "True"},
            },
            "test",
        )
        # serve() does not set up Radicale's logging; keep expected 412/409 chatter quiet.
        logging.getLogger("radicale").setLevel(logging.ERROR)
        self._sock_a, sock_b = socket.socketpair()
        self._thread = threading.Thread(
            target=radicale.server.serve, args=(conf, sock_b), daemon=True
        )
        self._thread.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                requests.get(self.url, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Shut down and remove the data."""
        if self._sock_a is not None:
            self._sock_a.close()
            self._sock_a = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._tmp.cleanup()

    def make_calendar(self, name: str | None = None) -> str:
        """A new calendar collection; returns its absolute URL."""
        cal_id = uuid.uuid4().hex[:12]
        url = f"{self.url}{self.user}/{cal_id}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:set><D:prop><D:displayname>{name or cal_id}</D:displayname></D:prop></D:set>"
            "</C:mkcalendar>"
        )
        resp = requests.request(
            "MKCALENDAR", url, data=body, auth=(self.user, self.password), timeout=10
        )
        assert resp.status_code == 201, resp.text
        return url

    def put(self, cal_url: str, name: str, ical: str) -> str:
        """Store a resource as another client would; returns its path."""
        resp = requests.put(
            cal_url + name,
            data=ical.encode(),
            auth=(self.user, self.password),
            headers={"Content-Type": "text/calendar"},
            timeout=10,
        )
        assert resp.status_code in (201, 204), resp.text
        return requests.utils.urlparse(cal_url + name).path

    def delete(self, path: str) -> None:
        """Delete a resource as another client would."""
        resp = requests.delete(
            self.url.rstrip("/") + path, auth=(self.user, self.password), timeout=10
        )
        assert resp.status_code in (200, 204), resp.text

    def get(self, path: str) -> str | None:
        """A resource's iCalendar text, or None."""
        resp = requests.get(
            self.url.rstrip("/") + path, auth=(self.user, self.password), timeout=10
        )
        return resp.text if resp.status_code == 200 else None

    def list(self, cal_url: str) -> dict[str, str]:
        """path -> iCalendar text of every resource in a calendar."""
        body = (
            '<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
            '</D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
        )
        resp = requests.request(
            "REPORT",
            cal_url,
            data=body,
            auth=(self.user, self.password),
            headers={"Depth": "1", "Content-Type": "application/xml"},
            timeout=10,
        )
        from lxml import etree

        root = etree.fromstring(resp.content)
        out = {}
        for r in root.iter("{DAV:}response"):
            href = r.findtext("{DAV:}href")
            data = r.findtext(".//{urn:ietf:params:xml:ns:caldav}calendar-data")
            if href and data:
                out[href] = data
        return out
