"""The DAV tree: which collections a principal's home holds and what each path names.

/dav/<user>/                          principal and calendar home
/dav/<user>/schedule/                 own shifts and assigned reservations
/dav/<user>/busy/                     personal busy calendar (blocks availability)
/dav/<user>/<slug>-reservations/      a location's reservations (managers)
/dav/<user>/<slug>-shifts/            a location's shifts (managers)
/dav/<user>/<slug>-events/            special events (managers rw, staff read-only)
/dav/<user>/<slug>-blackouts/         blackouts (managers rw, staff read-only)
/dav/<user>/<slug>-freebusy/          "Unavailable" blocks only (read-only)
/dav/<user>/<name>/                   calendars the user created (MKCALENDAR)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from hub.booking.busy import BUSY
from hub.booking.dav_read import DavLocation, DavPrincipal, DavQueries, View
from hub.domain.statuses import Role
from hub.ical.model import Audience
from hub.ical.render import calendar, to_text, vtimezone

MANAGER_KINDS = ("reservations", "shifts", "events", "blackouts", "freebusy")
STAFF_KINDS = ("events", "blackouts", "freebusy")
READ_ONLY_FOR_STAFF = frozenset(STAFF_KINDS)
TITLES = {
    "reservations": ("Reservations", "#E67E22FF"),
    "shifts": ("Shifts", "#16A085FF"),
    "events": ("Special events", "#8E44ADFF"),
    "blackouts": ("Blackouts", "#7F8C8DFF"),
    "freebusy": ("Free/busy", "#95A5A6FF"),
}
COMPONENTS_EVENT = "VEVENT"
COMPONENTS_PERSONAL = "VEVENT,VTODO,VJOURNAL"


@functools.lru_cache(maxsize=64)
def timezone_text(tzid: str) -> str:
    """A VCALENDAR holding the VTIMEZONE of ``tzid`` (for C:calendar-timezone)."""
    if tzid == "UTC":
        return to_text(calendar([vtimezone("UTC", date(2020, 1, 1), date(2040, 1, 1))]))
    return to_text(calendar([vtimezone(tzid, date(2020, 1, 1), date(2040, 1, 1))]))


@dataclass(frozen=True)
class Home:
    """One principal's home: the collections they may see, by name."""

    principal: DavPrincipal
    locations: tuple[DavLocation, ...]
    calendars: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]  # name, kind, props

    @functools.cached_property
    def views(self) -> dict[str, View]:
        """Every collection of this home, by its path segment."""
        p = self.principal
        audience = Audience.MANAGER if p.role == Role.MANAGER else Audience.STAFF
        out: dict[str, View] = {
            "schedule": View("schedule", p, "schedule", None, audience),
            BUSY: View("personal", p, BUSY, None, audience),
        }
        kinds = MANAGER_KINDS if p.role == Role.MANAGER else STAFF_KINDS
        for loc in self.locations:
            for kind in kinds:
                name = f"{loc.slug}-{kind}"
                aud = Audience.PUBLIC if kind == "freebusy" else audience
                out[name] = View(kind, p, name, loc, aud)
        for name, kind, _props in self.calendars:
            if kind == "personal" and name not in out:
                out[name] = View("personal", p, name, None, audience)
        return out

    def props_of(self, name: str) -> dict[str, str]:
        """The user's own display properties for collection ``name``."""
        for cal_name, _kind, props in self.calendars:
            if cal_name == name:
                return dict(props)
        return {}

    def meta(self, view: View) -> dict[str, str]:
        """Radicale's collection properties for ``view`` (user overrides win)."""
        if view.location is not None:
            title, color = TITLES[view.kind]
            display = f"{view.location.name} — {title}"
            tzid = view.location.timezone
            desc = f"{title} at {view.location.name}, from calhub"
        elif view.kind == "schedule":
            display, color = "My schedule", "#2F7DE1FF"
            desc = "Your shifts and the reservations assigned to you"
            tzid = self._user_tz()
        elif view.name == BUSY:
            display, color = "Busy (blocks my availability)", "#8E8E93FF"
            desc = "Events here make you unavailable for bookings"
            tzid = self._user_tz()
        else:
            display, color, desc, tzid = view.name, "#3A87ADFF", "", self._user_tz()
        meta = {
            "tag": "VCALENDAR",
            "D:displayname": display,
            "ICAL:calendar-color": color,
            "C:calendar-description": desc,
            "C:supported-calendar-component-set": COMPONENTS_PERSONAL
            if view.kind == "personal"
            else COMPONENTS_EVENT,
            "C:calendar-timezone": timezone_text(tzid),
        }
        meta.update(self.props_of(view.name))
        meta["tag"] = "VCALENDAR"
        return meta

    def _user_tz(self) -> str:
        p = self.principal
        for loc in self.locations:
            if loc.id == p.location_id:
                return loc.timezone
        return self.locations[0].timezone if len(self.locations) == 1 else "UTC"


def load_home(queries: DavQueries, username: str) -> Home | None:
    """The home of ``username``, or None when no such user exists."""
    p = queries.principal(username)
    if p is None:
        return None
    cals = queries.calendars_of(p)
    return Home(
        p,
        tuple(queries.locations_for(p)),
        tuple((name, kind, tuple(sorted(props.items()))) for name, (kind, props) in cals.items()),
    )


def split(path: str) -> list[str]:
    """The segments of a stripped path."""
    return [s for s in path.split("/") if s]
