"""Demo data: a pet café with staff, shifts, tables, services, a week of bookings, blackouts, an event.

Loaded through the booking commands like any other write, and idempotent: a second run finds the
café and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.domain.errors import Conflict, HubError
from hub.services import Services
from hub.store.models import Location

DEMO_SLUG = "pawsome-cafe"
DEMO_PASSWORD = "calhub-demo"
DEMO_TZ = "Europe/Paris"
DEMO_LOGINS = (("manager", "manager"), ("mia", "staff"), ("leo", "staff"))


def _at(day: date, hh: int, mm: int = 0) -> str:
    local = datetime.combine(day, time(hh, mm), ZoneInfo(DEMO_TZ))
    return local.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_demo(services: Services, today: date | None = None) -> bool:
    """Create the demo café unless it exists; returns True when it was created now."""
    with services.db.reader() as s:
        if s.scalars(select(Location.id).where(Location.slug == DEMO_SLUG)).first():
            return False
    b = services.booking
    today = today or datetime.now(ZoneInfo(DEMO_TZ)).date()
    loc = b.create_location(
        {
            "name": "Pawsome Pet Café",
            "slug": DEMO_SLUG,
            "timezone": DEMO_TZ,
            "expirationDelay": 600,
            "email": "hello@pawsome.example",
            "address": "12 Rue des Chats, 75011 Paris",
            "openingHours": {
                d: [["09:00", "19:00"]] for d in ("tue", "wed", "thu", "fri", "sat", "sun")
            }
            | {"mon": [["10:00", "17:00"]]},
        },
        actor="demo",
    )
    lid = loc["id"]
    b.add_user(
        "manager",
        "manager",
        DEMO_PASSWORD,
        location=DEMO_SLUG,
        email="manager@pawsome.example",
        display_name="Camille (manager)",
        actor="demo",
    )
    mia = b.add_user(
        "mia",
        "staff",
        DEMO_PASSWORD,
        location=DEMO_SLUG,
        email="mia@pawsome.example",
        display_name="Mia (groomer)",
        actor="demo",
    )
    leo = b.add_user(
        "leo",
        "staff",
        DEMO_PASSWORD,
        location=DEMO_SLUG,
        email="leo@pawsome.example",
        display_name="Leo (host)",
        actor="demo",
    )
    tables = [
        b.create_resource(
            {"name": name, "locationId": lid, "kind": kind, "capacity": cap}, actor="demo"
        )
        for name, kind, cap in (
            ("Table 1", "table", 4),
            ("Table 2", "table", 4),
            ("Table 3", "table", 2),
            ("Window table", "table", 6),
            ("Cat lounge", "area", 12),
        )
    ]
    cafe = b.create_service(
        {
            "name": "Café table with the cats",
            "locationId": lid,
            "duration": 60,
            "bufferAfter": 10,
            "involvesPets": True,
            "color": "#e67e22",
        },
        actor="demo",
    )
    coffee = b.create_service(
        {
            "name": "Coffee & cake (no pets)",
            "locationId": lid,
            "duration": 45,
            "involvesPets": False,
            "color": "#8e44ad",
        },
        actor="demo",
    )
    groom = b.create_service(
        {
            "name": "Dog grooming",
            "locationId": lid,
            "duration": 45,
            "bufferBefore": 5,
            "bufferAfter": 10,
            "involvesPets": True,
            "color": "#16a085",
            "resourceIds": [mia["resourceId"]],
        },
        actor="demo",
    )
    monday = today - timedelta(days=today.weekday())
    b.create_shift(
        {
            "resourceId": mia["resourceId"],
            "start": _at(monday + timedelta(days=1), 10),
            "end": _at(monday + timedelta(days=1), 18),
            "role": "groomer",
            "rrule": "FREQ=WEEKLY;BYDAY=TU,WE,TH,FR,SA",
        },
        actor="demo",
    )
    b.create_shift(
        {
            "resourceId": leo["resourceId"],
            "start": _at(monday, 9),
            "end": _at(monday, 17),
            "role": "host",
            "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        },
        actor="demo",
    )
    # A public holiday: the next of Christmas or New Year's Day.
    xmas = (
        date(today.year, 12, 25)
        if today <= date(today.year, 12, 25)
        else date(today.year + 1, 1, 1)
    )
    b.create_blackout(
        {
            "locationId": lid,
            "kind": "holiday",
            "start": _at(xmas, 0),
            "end": _at(xmas + timedelta(days=1), 0),
            "allDay": True,
            "summary": "Public holiday",
        },
        actor="demo",
    )
    wednesday = monday + timedelta(days=2)
    b.create_blackout(
        {
            "locationId": lid,
            "kind": "no_pets",
            "start": _at(wednesday, 9),
            "end": _at(wednesday, 11),
            "rrule": "FREQ=WEEKLY;BYDAY=WE",
            "summary": "Allergy-friendly morning: no pets",
        },
        actor="demo",
    )
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    b.create_event(
        {
            "locationId": lid,
            "start": _at(saturday, 14),
            "end": _at(saturday, 17),
            "summary": "Kitten adoption afternoon",
            "capacity": 20,
            "blocksRegularBookings": False,
        },
        actor="demo",
    )
    customers = [
        ("Alice", "Martin"),
        ("Bruno", "Petit"),
        ("Chloé", "Durand"),
        ("David", "Leroy"),
        ("Emma", "Moreau"),
        ("Farid", "Benali"),
        ("Gabrielle", "Roux"),
    ]
    n = 0
    for offset in range(1, 8):
        day = today + timedelta(days=offset)
        plan = [
            (cafe, tables[0], 11, 2),
            (coffee, tables[2], 13, 2),
            (cafe, tables[4], 15, 5),
            (groom, None, 11, 1),
        ]
        for svc, table, hour, party in plan:
            first, last = customers[n % len(customers)]
            n += 1
            resource = mia["resourceId"] if table is None else table["id"]
            try:
                b.create(
                    {
                        "serviceId": svc["id"],
                        "resourceIds": [resource],
                        "start_time": _at(day, hour),
                        "partySize": party,
                        "channel": "demo",
                        "customer": {
                            "firstName": first,
                            "lastName": last,
                            "email": f"{first.lower()}@customers.example",
                            "phone": f"+33 6 00 00 00 {n:02d}",
                        },
                    },
                    actor="demo",
                )
            except (Conflict, HubError):
                continue  # a closed day or a blackout: the demo simply has no booking then
    return True


def demo_logins_text(services: Services) -> str:
    """The lines ``--demo`` prints so a newcomer can log in."""
    base = services.settings.base_url.rstrip("/")
    lines = ["Demo pet café loaded. Log in to CalDAV with:"]
    for user, role in DEMO_LOGINS:
        lines.append(f"  {user:8s} / {DEMO_PASSWORD}  ({role})  {base}/dav/{user}/")
    return "\n".join(lines)
