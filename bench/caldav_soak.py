"""The 60-second version of tests/caldav/test_concurrency.py: eight CalDAV clients mixing
REPORTs and PUTs while the API books. Prints status counts and the lost-update check.

    .venv/bin/python bench/caldav_soak.py [--seconds 60]
    CALHUB_TEST_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/caldav_soak.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.demo import load_demo  # noqa: E402
from tests.caldav.conftest import DemoHub  # noqa: E402
from tests.caldav.test_concurrency import run_soak  # noqa: E402
from tests.support import LiveServer, build_test_services, isolated_database_url  # noqa: E402


def main() -> int:
    """Run the soak and print what happened."""
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=60)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, isolated_database_url(Path(tmp)) as url:
        services = build_test_services(Path(tmp), url)
        load_demo(services)
        server = LiveServer(services)
        try:
            result = run_soak(DemoHub(services, server), args.seconds)
        finally:
            server.stop()
            services.close()
    print(f"database: {url.split(':')[0]}, {args.seconds:.0f} s")
    print("statuses:", dict(sorted(result["statuses"].items())))
    print("5xx / unexpected answers:", len(result["failures"]), result["failures"][:5])
    print("clients stuck (deadlock):", result["stuck"])
    print(
        f"shared busy item: {result['wins']['busy']} accepted PUTs, "
        f"{result['busy_versions']} versions written"
    )
    print(
        f"shared reservation: {result['wins']['reservation']} accepted PUTs, "
        f"{result['reservation_versions']} versions written"
    )
    ok = (
        not result["failures"]
        and not result["stuck"]
        and result["wins"]["busy"] == result["busy_versions"]
        and result["wins"]["reservation"] == result["reservation_versions"]
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
