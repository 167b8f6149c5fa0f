"""caldav-server-tester finds at least every feature in calhub that it finds in stock Radicale
3.9 on the same machine, and no probe makes calhub answer 5xx."""

from __future__ import annotations

from tests.caldav.tester_compare import compare, regressions, table


def test_calhub_supports_every_feature_stock_radicale_does() -> None:
    stock, hub, errors = compare()
    print(table(stock, hub))
    assert errors == []
    assert regressions(stock, hub) == []
    # Stock Radicale answers principal searches empty; calhub finds real users.
    assert stock.get("principal-search", {}).get("support") == "unsupported"
    assert "principal-search" not in hub or hub["principal-search"].get("support") == "full"
