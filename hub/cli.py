"""The ``calhub`` command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from hub.config import ConfigError, Settings, load_settings
from hub.domain.errors import HubError

logger = logging.getLogger("calhub")


def _services(settings: Settings, migrate: bool = True) -> Any:
    from hub.services import build_services

    return build_services(settings, migrate=migrate)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Run the whole hub on one port with a production WSGI server (waitress)."""
    import waitress

    from hub.sync.runtime import build_worker
    from hub.wsgi import build_wsgi

    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    if args.host or args.port:
        settings.base_url = f"http://{settings.host}:{settings.port}"
    services = _services(settings)
    if args.demo:
        from hub.demo import demo_logins_text, load_demo

        created = load_demo(services)
        print(("Created" if created else "Found") + " the demo pet café.", flush=True)
        print(demo_logins_text(services), flush=True)
    app = build_wsgi(services)
    worker = None
    if settings.run_worker_in_serve and not args.no_worker:
        worker = build_worker(services)
        worker.start()
    from hub.mail.inbound import start_inbound

    inbound = start_inbound(services)  # iMIP replies over SMTP/LMTP when lmtp_port > 0
    server = waitress.create_server(
        app, host=settings.host, port=settings.port, threads=settings.threads, ident="calhub"
    )

    def _terminate(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # unwinds waitress's loop in the main thread

    signal.signal(signal.SIGTERM, _terminate)
    print(
        f"calhub serving on http://{settings.host}:{settings.port}/ (CalDAV at /dav/)", flush=True
    )
    try:
        server.run()
    except KeyboardInterrupt:
        logger.info("stopping: no new connections, finishing requests in flight")
    finally:
        server.close()
        # Requests already being handled finish their transaction before we exit.
        server.task_dispatcher.shutdown(cancel_pending=False, timeout=15)
        if inbound is not None:
            inbound.stop()
        if worker is not None:
            worker.stop()
        services.close()
    print("calhub stopped cleanly", flush=True)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Run the outbox worker as its own process until SIGTERM/SIGINT."""
    from hub.sync.runtime import build_worker

    services = _services(settings)
    worker = build_worker(services)
    stop = lambda *_: worker._stop.set()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"calhub worker {worker.worker_id} running", flush=True)
    worker.run_forever()
    services.close()
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Bring the database schema up to date."""
    services = _services(settings, migrate=True)
    print(f"database is up to date ({services.db.engine.url.render_as_string(hide_password=True)})")
    services.close()
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Load the demo pet café (idempotent)."""
    from hub.demo import demo_logins_text, load_demo

    services = _services(settings)
    created = load_demo(services)
    print(("Created" if created else "Found") + " the demo pet café.")
    print(demo_logins_text(services))
    services.close()
    return 0


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    """Create a manager or staff user; the password is read from standard input."""
    if not args.password_stdin:
        raise HubError(
            "pass --password-stdin and pipe the password in (it never goes on the command line)"
        )
    password = sys.stdin.readline().rstrip("\r\n")
    services = _services(settings)
    user = services.booking.add_user(
        args.username,
        args.role,
        password,
        location=args.location,
        email=args.email,
        display_name=args.name,
    )
    print(f"created {user['role']} {user['username']} (id {user['id']})")
    services.close()
    return 0


def cmd_app_password_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create a per-device password for a user; printed once, alone on the last line."""
    services = _services(settings)
    ap = services.booking.create_app_password(args.username, args.name)
    print(
        f"app password {ap['name']!r} for {args.username} created (id {ap['id']}). "
        "It is shown once; enter it in the device now:"
    )
    print(ap["password"])
    services.close()
    return 0


def cmd_app_password_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke a per-device password by id; the device is refused from the next request on."""
    services = _services(settings)
    services.booking.revoke_app_password(args.id)
    print(f"app password {args.id} revoked")
    services.close()
    return 0


def cmd_app_password_list(settings: Settings, args: argparse.Namespace) -> int:
    """List a user's per-device passwords (never the passwords themselves)."""
    from hub.booking.dav_read import DavQueries

    services = _services(settings)
    rows = DavQueries(services.db).app_passwords(args.username)
    for row in rows:
        state = f"revoked {row['revokedAt']}" if row["revokedAt"] else "active"
        used = row["lastUsedAt"] or "never"
        print(f"{row['id']}  {row['name']:20s}  created {row['createdAt']}  used {used}  {state}")
    if not rows:
        print(f"{args.username} has no app passwords")
    services.close()
    return 0


def cmd_apikey_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create an API key and print it alone on the last line (only its hash is stored)."""
    services = _services(settings)
    key = services.booking.create_api_key(args.name)
    print(f"API key {key['name']!r} created (id {key['id']}). It is shown once; store it now:")
    print(key["key"])
    services.close()
    return 0


def cmd_apikey_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke an API key by id, name or the key itself; it stops working at once."""
    services = _services(settings)
    for key in services.booking.revoke_api_keys(args.id):
        print(f"API key {key['name']!r} (id {key['id']}, {key['prefix']}…) revoked")
    services.close()
    return 0


def cmd_apikey_list(settings: Settings, args: argparse.Namespace) -> int:
    """List API keys: id, name, prefix, created, revoked."""
    services = _services(settings)
    for key in services.booking.list_api_keys():
        state = f"revoked {key['revokedAt']}" if key["revokedAt"] else "live"
        print(f"{key['id']}  {key['name']}  {key['prefix']}…  created {key['createdAt']}  {state}")
    services.close()
    return 0


def cmd_secret_generate(settings: Settings, args: argparse.Namespace) -> int:
    """Print a new random secret key for CALHUB_SECRET_KEY."""
    import secrets

    print(secrets.token_urlsafe(32))
    return 0


def cmd_feed_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create a secret .ics feed URL (printed once, alone on the last line)."""
    from hub.api.feeds import feed_urls

    services = _services(settings)
    made = services.booking.create_feed_token({"scope": args.scope, "id": args.id}, actor="cli")
    urls = feed_urls(settings.base_url, made["token"])
    print(f"{args.scope} feed {made['id']} created. Its URL is shown once; store it now:")
    print(f"(subscribe in Apple Calendar / Outlook with {urls['webcalUrl']})")
    print(urls["url"])
    services.close()
    return 0


def cmd_feed_list(settings: Settings, args: argparse.Namespace) -> int:
    """List feed tokens (never the URLs: only their hashes are stored)."""
    services = _services(settings)
    rows = services.booking.list_feed_tokens(include_revoked=args.all)
    for f in rows:
        state = f"revoked {f['revokedAt']}" if f["revoked"] else "active"
        print(f"{f['id']}  {f['scope']:<8}  {f['targetId']}  created {f['createdAt']}  {state}")
    if not rows:
        print("no feeds")
    services.close()
    return 0


def cmd_feed_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke a feed: its URL answers 404 from now on."""
    services = _services(settings)
    services.booking.revoke_feed_token(args.id, actor="cli")
    print(f"feed {args.id} revoked")
    services.close()
    return 0


def cmd_feed_rotate(settings: Settings, args: argparse.Namespace) -> int:
    """Give a feed a new URL; the old one stops working."""
    from hub.api.feeds import feed_urls

    services = _services(settings)
    made = services.booking.rotate_feed_token(args.id, actor="cli")
    print(f"feed {args.id} rotated; the old URL no longer works. New URL (shown once):")
    print(feed_urls(settings.base_url, made["token"])["url"])
    services.close()
    return 0


def cmd_mail_status(settings: Settings, args: argparse.Namespace) -> int:
    """Print the outgoing mail status (queue, retries, last error)."""
    import json

    from hub.mail.status import mail_status

    services = _services(settings)
    print(json.dumps(mail_status(services), indent=2))
    services.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the commands)."""
    p = argparse.ArgumentParser(
        prog="calhub", description="calhub: the calendar hub for reservation businesses"
    )
    p.add_argument("--config", help="TOML configuration file (default: $CALHUB_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the hub (API, CalDAV, feeds, worker) on one port")
    s.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="port (default 5232)")
    s.add_argument(
        "--demo", action="store_true", help="load the demo pet café first and print its logins"
    )
    s.add_argument(
        "--no-worker", action="store_true", help="do not run the outbox worker in this process"
    )
    s.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="run the outbox worker as its own process").set_defaults(
        func=cmd_worker
    )
    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("demo", help="load the demo pet café").set_defaults(func=cmd_demo)

    u = sub.add_parser("user", help="manage users").add_subparsers(dest="user_cmd", required=True)
    ua = u.add_parser("add", help="create a user")
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=["manager", "staff"])
    ua.add_argument("--location", help="location slug or id")
    ua.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    ua.add_argument("--email")
    ua.add_argument("--name", help="display name")
    ua.set_defaults(func=cmd_user_add)
    ap = u.add_parser("app-password", help="per-device passwords for CalDAV").add_subparsers(
        dest="app_password_cmd", required=True
    )
    apc = ap.add_parser("create", help="create an app password (shown once)")
    apc.add_argument("username")
    apc.add_argument("name", help="device name, e.g. 'iPhone'")
    apc.set_defaults(func=cmd_app_password_create)
    apr = ap.add_parser("revoke", help="revoke an app password by id")
    apr.add_argument("id")
    apr.set_defaults(func=cmd_app_password_revoke)
    apl = ap.add_parser("list", help="list a user's app passwords")
    apl.add_argument("username")
    apl.set_defaults(func=cmd_app_password_list)

    k = sub.add_parser("apikey", help="manage API keys").add_subparsers(
        dest="apikey_cmd", required=True
    )
    kc = k.add_parser("create", help="create an API key")
    kc.add_argument("name")
    kc.set_defaults(func=cmd_apikey_create)
    kr = k.add_parser("revoke", help="revoke an API key")
    kr.add_argument("id", help="the key's id, its name, or the key itself")
    kr.set_defaults(func=cmd_apikey_revoke)
    k.add_parser("list", help="list API keys").set_defaults(func=cmd_apikey_list)

    fd = sub.add_parser("feed", help="secret .ics feed URLs").add_subparsers(
        dest="feed_cmd", required=True
    )
    fc = fd.add_parser("create", help="create a feed URL for a staff member, customer or location")
    fc.add_argument("--scope", required=True, choices=["staff", "customer", "location"])
    fc.add_argument("id", help="staff resource (or its user), customer or location id")
    fc.set_defaults(func=cmd_feed_create)
    fl = fd.add_parser("list", help="list feeds")
    fl.add_argument("--all", action="store_true", help="include revoked feeds")
    fl.set_defaults(func=cmd_feed_list)
    fr = fd.add_parser("revoke", help="revoke a feed")
    fr.add_argument("id")
    fr.set_defaults(func=cmd_feed_revoke)
    fo = fd.add_parser("rotate", help="give a feed a new URL")
    fo.add_argument("id")
    fo.set_defaults(func=cmd_feed_rotate)
    ml = sub.add_parser("mail", help="outgoing mail").add_subparsers(dest="mail_cmd", required=True)
    ml.add_parser("status", help="queue, retries and last error").set_defaults(func=cmd_mail_status)

    sec = sub.add_parser("secret", help="secrets").add_subparsers(dest="secret_cmd", required=True)
    sec.add_parser("generate", help="print a new secret key").set_defaults(func=cmd_secret_generate)

    from hub.sync.cli import add_sync_commands  # issue 6: calhub sync status|resync

    add_sync_commands(sub, _services)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``calhub`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        # Radicale and Alembic narrate their start-up at INFO; keep the console for calhub.
        for noisy in ("radicale", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        return int(args.func(settings, args) or 0)
    except (ConfigError, HubError) as e:
        print(f"calhub: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
