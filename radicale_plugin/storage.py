"""Radicale storage plugin: calhub's database as the store, through hub queries and commands.

``discover`` resolves paths against each principal's home (see ``radicale_plugin.paths``);
collections are snapshots (``radicale_plugin.collection``); no booking rule lives here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import radicale.item as radicale_item
from radicale import config, pathutils, storage, types

from hub.booking.busy import BUSY
from hub.booking.dav_read import DavQueries
from hub.domain.errors import Conflict, Forbidden
from hub.services import Services
from radicale_plugin import session
from radicale_plugin.collection import Collection, Folder, now
from radicale_plugin.paths import Home, load_home, split


class Storage(storage.BaseStorage):
    """Serves ``/``, ``/<user>/``, the home's calendars and their items from the hub database."""

    _supports_unicode = True
    _supports_trailing_whitespace = False

    def __init__(self, configuration: config.Configuration, services: Services) -> None:
        super().__init__(configuration)
        self.services = services
        self.booking = services.booking
        self.queries = DavQueries(services.db, services.queries.clock)

    # ---- resolution ----------------------------------------------------------------------------

    def home(self, username: str) -> Home | None:
        """The (per-request cached) home of ``username``."""
        cache = session.current().cache
        key = ("home", username)
        if key not in cache:
            cache[key] = load_home(self.queries, username)
        return cache[key]

    def forget(self, username: str) -> None:
        """Drop a cached home after a write that changes it (MKCALENDAR, PROPPATCH)."""
        session.current().cache.pop(("home", username), None)

    def collection(self, home: Home, name: str) -> Collection | None:
        """The snapshot of collection ``name`` in ``home``."""
        view = home.views.get(name)
        if view is None:
            return None
        seq, at = self.queries.current_seq(view.refs), None
        at = self.queries_at(seq)
        return Collection(self, f"{home.principal.username}/{name}", view, home.meta(view), seq, at)

    def queries_at(self, seq: int) -> Any:
        """When change ``seq`` happened (now when nothing has)."""
        return self.queries.change_time(seq) or now()

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Any = None,
        user_groups: set[str] = set(),  # noqa: B006 - Radicale's signature
    ) -> Iterable[types.CollectionOrItem]:
        parts = split(pathutils.strip_path(path))
        if not parts:
            yield Folder("")
            return
        home = self.home(parts[0])
        if home is None:
            return
        user = home.principal.username
        if len(parts) == 1:
            yield Folder(user, {"D:displayname": home.principal.display_name or user})
            if depth != "0":
                for name in home.views:
                    coll = self.collection(home, name)
                    if coll is not None:
                        yield coll
            return
        coll = self.collection(home, parts[1])
        if coll is None:
            return
        if len(parts) == 2:
            yield coll
            if depth != "0":
                yield from coll.get_all()
            return
        if len(parts) == 3:
            href = parts[2]
            found = dict(coll.get_multi([href])).get(href)
            session.current().seen[f"{coll.path}/{href}"] = (
                found.entry if found is not None else None  # type: ignore[attr-defined]
            )
            if found is not None:
                yield found

    # ---- writes on collections -----------------------------------------------------------------

    def move(
        self, item: radicale_item.Item, to_collection: storage.BaseCollection, to_href: str
    ) -> None:
        raise Forbidden("moving objects between calendars is not supported; copy, then delete")

    def create_collection(self, href: str, items: Any = None, props: Any = None) -> Any:
        parts = split(pathutils.strip_path(href))
        if len(parts) == 1:
            # Radicale creates a missing principal on first login; ours are virtual.
            return Folder(parts[0]), {}, []
        if len(parts) != 2:
            raise Forbidden("calendars live directly in a principal's home")
        home = self.home(parts[0])
        if home is None:
            raise Forbidden(f"user {parts[0]} does not exist")
        props = dict(props or {})
        if props.get("tag") != "VCALENDAR" or items:
            raise Forbidden("only empty calendars can be created here (MKCALENDAR)")
        name = parts[1]
        if name in home.views:
            raise Conflict(f"{name} already exists", code="calendar_exists")
        if name == BUSY:
            raise Conflict("busy already exists", code="calendar_exists")
        props.pop("tag", None)
        self.booking.create_personal_calendar(home.principal.id, name, props)
        self.forget(parts[0])
        home = self.home(parts[0])
        assert home is not None
        return self.collection(home, name), {}, []

    @types.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        # Each command is its own transaction and checks the version it was given (If-Match),
        # so there is nothing to lock here; a write just must not reuse a stale home snapshot.
        if mode == "w":
            session.current().cache.clear()
        with contextlib.nullcontext():
            yield

    def verify(self) -> bool:
        return True
