"""Run caldav-server-tester against stock Radicale 3.9 and against calhub; print both reports.

.venv/bin/python bench/caldav_server_tester.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.caldav.tester_compare import compare, regressions, table  # noqa: E402


def main() -> int:
    """Print the side-by-side feature table, calhub's 5xx answers and any regressions."""
    stock, hub, errors = compare()
    print(table(stock, hub))
    print()
    print(f"calhub 5xx answers during the run: {len(errors)}")
    for e in errors:
        print("  ", e)
    bad = regressions(stock, hub)
    print(f"features calhub supports less well than stock Radicale: {len(bad)}")
    for line in bad:
        print("  ", line)
    return 1 if bad or errors else 0


if __name__ == "__main__":
    sys.exit(main())
