"""Radicale storage plugin: calhub's database as the store (principals and their calendars)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import radicale.item as radicale_item
from radicale import config, pathutils, storage, types
from sqlalchemy import select

from hub.services import Services
from hub.store.models import User

USER_CALENDARS = {
    "schedule": {"D:displayname": "My schedule", "ICAL:calendar-color": "#2f7de1"},
    "busy": {"D:displayname": "Busy (blocks my availability)", "ICAL:calendar-color": "#8e8e93"},
}


class Collection(storage.BaseCollection):
    """An immutable snapshot of one collection (Radicale reads it after the lock is released)."""

    def __init__(
        self, path: str, meta: Mapping[str, str], items: list[radicale_item.Item] | None = None
    ) -> None:
        self._path = path
        self._meta = dict(meta)
        self._items = items or []

    @property
    def path(self) -> str:
        return self._path

    def get_meta(self, key: str | None = None) -> Any:
        return self._meta if key is None else self._meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        raise ValueError("[Errno 13] collection properties are managed by calhub")

    @property
    def last_modified(self) -> str:
        return "Thu, 01 Jan 2026 00:00:00 GMT"

    @property
    def etag(self) -> str:
        return '"{}-{}"'.format(self._path.replace("/", "-"), len(self._items))

    def get_multi(self, hrefs: Iterable[str]) -> Iterable[tuple[str, radicale_item.Item | None]]:
        index = {i.href: i for i in self._items}
        for href in hrefs:
            yield href, index.get(href)

    def get_all(self) -> Iterable[radicale_item.Item]:
        return list(self._items)

    def upload(
        self, href: str, item: radicale_item.Item
    ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        raise ValueError("[Errno 13] this calendar does not accept writes yet")

    def delete(self, href: str | None = None) -> None:
        raise ValueError("[Errno 13] this calendar does not accept deletes yet")


class Storage(storage.BaseStorage):
    """Serves ``/``, ``/<user>/`` and each user's calendars from the hub database."""

    _supports_unicode = True

    def __init__(self, configuration: config.Configuration, services: Services) -> None:
        super().__init__(configuration)
        self._services = services

    def _user_exists(self, username: str) -> bool:
        with self._services.db.reader() as s:
            return s.scalars(select(User.id).where(User.username == username)).first() is not None

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Any = None,
        user_groups: set[str] = set(),  # noqa: B006 - Radicale's signature
    ) -> Iterable[types.CollectionOrItem]:
        sane = pathutils.strip_path(path)
        parts = sane.split("/") if sane else []
        if not parts:
            yield Collection("", {})
            return
        user = parts[0]
        if not self._user_exists(user):
            return
        if len(parts) == 1:
            yield Collection(user, {})
            if depth != "0":
                for name, meta in USER_CALENDARS.items():
                    yield Collection(f"{user}/{name}", {"tag": "VCALENDAR", **meta})
            return
        if len(parts) == 2 and parts[1] in USER_CALENDARS:
            yield Collection(f"{user}/{parts[1]}", {"tag": "VCALENDAR", **USER_CALENDARS[parts[1]]})

    def move(
        self, item: radicale_item.Item, to_collection: storage.BaseCollection, to_href: str
    ) -> None:
        raise ValueError("[Errno 13] moving items is not supported")

    def create_collection(self, href: str, items: Any = None, props: Any = None) -> Any:
        if pathutils.strip_path(href).count("/") == 0:
            # Radicale creates a missing principal on first login; ours are virtual.
            return Collection(pathutils.strip_path(href), {}), {}, []
        raise ValueError("[Errno 13] calendars are created by calhub, not by clients")

    @types.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        with contextlib.nullcontext():
            yield

    def verify(self) -> bool:
        return True
