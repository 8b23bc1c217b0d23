"""The stock, delivery and reconcile pages' pure parts: the level chart, the silent-platform
notice, and a string in both languages for every key the templates ask for."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregates.values import PLATFORMS
from service.http.console import deliveries, i18n, stock
from service.http.console.chart import Point, level_chart
from service.http.console.stock import ref_path
from service.settings import Settings, SettingsError

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
TEMPLATES = Path(deliveries.__file__).resolve().parent / "templates"
PAGES = (
    "stock.html",
    "stock_detail.html",
    "products.html",
    "deliveries.html",
    "delivery.html",
    "delivery_confirm.html",
    "reconcile.html",
)


def test_no_movements_draw_no_chart():
    assert level_chart([], "t", ("", "")) == ""


def test_the_chart_is_a_step_line_in_time_with_no_style_or_script():
    points = [Point(T0, 5), Point(T0 + timedelta(hours=1), 3), Point(T0 + timedelta(hours=3), 8)]
    svg = str(level_chart(points, "Level <of> 42", ("first", "last")))
    assert svg.startswith('<svg class="chart"') and svg.endswith("</svg>")
    assert '<title id="chart-title">Level &lt;of&gt; 42</title>' in svg
    assert "style" not in svg and "script" not in svg
    assert svg.count('<circle class="dot"') == 3
    # x by time: the second point a third of the way (1 h of 3), the last at the right edge.
    xs = [float(x) for x in re.findall(r'cx="([0-9.]+)"', svg)]
    assert xs[0] == 48 and xs[2] == 592 and abs((xs[1] - 48) / (592 - 48) - 1 / 3) < 0.01
    path = re.search(r' d="([^"]+)"', svg)
    assert path and all(step[0] in "MHV" for step in path.group(1).split())
    assert ">8</text>" in svg and ">0</text>" in svg  # the axis runs from 0 to the highest


def test_movements_at_one_moment_are_spaced_evenly_and_negatives_scale():
    points = [Point(T0, -2), Point(T0, -1), Point(T0, -4)]
    svg = str(level_chart(points, "t", ("a", "b")))
    xs = [float(x) for x in re.findall(r'cx="([0-9.]+)"', svg)]
    assert xs == [48.0, 320.0, 592.0]
    assert ">-4</text>" in svg and ">0</text>" in svg
    one = str(level_chart([Point(T0, 0)], "t", ("a", "a")))
    assert 'cx="320.0"' in one  # alone, in the middle; a flat 0 still has a scale


def _last(platform: str, endpoint: str, at: datetime) -> tuple[tuple[str, str], dict[str, str]]:
    return (platform, endpoint), {"received_at": at.isoformat()}


def test_a_platform_is_silent_when_its_newest_delivery_is_older_than_the_setting():
    now = T0 + timedelta(days=3)
    last = dict(
        [
            _last("woocommerce", "order", now - timedelta(hours=30)),
            _last("woocommerce", "product", now - timedelta(hours=2)),  # the newest counts
            _last("shopify", "order", now - timedelta(hours=25, minutes=59)),
        ]
    )
    assert deliveries.silent(last, 24, now) == [
        {"platform": "shopify", "hours": 25, "at": now - timedelta(hours=25, minutes=59)}
    ]
    assert deliveries.silent(last, 1, now)[1]["platform"] == "woocommerce"
    assert deliveries.silent(last, 48, now) == []
    assert deliveries.silent({}, 24, now) == []  # never heard from: not "connected"


def test_silent_hours_is_a_setting_of_24_by_default():
    assert Settings.from_env({}).silent_after == timedelta(hours=24)
    assert Settings.from_env({"LEDGER_SILENT_HOURS": "6"}).silent_after == timedelta(hours=6)
    for bad in ("soon", "0", "-3"):
        with pytest.raises(SettingsError, match="LEDGER_SILENT_HOURS"):
            Settings.from_env({"LEDGER_SILENT_HOURS": bad})


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        ("woocommerce:42", "/console/stock/woocommerce%3A42"),
        ("shopify:sku:A/B C", "/console/stock/shopify%3Asku%3AA%2FB%20C"),
        ("woocommerce:ñ", "/console/stock/woocommerce%3A%C3%B1"),
    ],
)
def test_a_products_page_has_its_whole_reference_encoded(ref: str, path: str):
    assert ref_path(ref) == path


def test_every_key_the_pages_ask_for_has_both_languages():
    asked = set()
    for name in PAGES:
        asked |= set(re.findall(r't\(["\']([a-z_.]+)["\']', (TEMPLATES / name).read_text()))
    made = {k for k in asked if k.endswith((".", "_"))}  # completed in the template
    asked -= made
    asked |= {f"movement.{k}" for k in ("deducted", "restored", "adjusted")}
    asked |= {f"inbox.state_{s}" for s in ("open", "seen", "reprocessed")}
    asked |= {f"platform.{p}" for p in PLATFORMS}
    asked |= {f"adjust.done_{n}" for n in stock.NOTICES}
    asked |= {f"delivery.done_{n}" for n in deliveries.NOTICES}
    for action in deliveries.ACTIONS:
        asked |= {f"delivery.confirm_{action}", f"delivery.confirm_{action}_text"}
        asked |= {f"delivery.{action}_yes"}
    for lang in i18n.LANGUAGES:
        missing = sorted(k for k in asked if k not in i18n.MESSAGES[lang])
        assert missing == [], (lang, missing)
