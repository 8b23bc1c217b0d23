"""The ingestion benchmark's outputs: one plain-text table, a PNG chart of latency against
rate, and whether every run kept exactly the orders it was sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_load import spread
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

Row = tuple[str, Callable[[dict[str, Any]], float | None], str]


def _get(*keys: str | int) -> Callable[[dict[str, Any]], float | None]:
    def get(r: dict[str, Any]) -> float | None:
        value: Any = r
        for key in keys:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                return None
        return None if value is None else float(value)

    return get


def _closed_rows(c: str) -> list[Row]:
    run = ("closed", c)
    return [
        (f"closed loop, {c} connections: requests/s", _get(*run, "requests_per_s"), ",.0f"),
        ("  new orders/s", _get(*run, "new_orders_per_s"), ",.0f"),
        ("  latency p50 / p99 / max, ms|  latency p50, ms", _get(*run, "latency_ms", "p50"), ".1f"),
        ("+  latency p99, ms", _get(*run, "latency_ms", "p99"), ".1f"),
        ("+  latency max, ms", _get(*run, "latency_ms", "max"), ".1f"),
        ("  non-2xx answers", _get(*run, "non_2xx"), ".0f"),
        ("  sales = unique ids sent (1 yes, 0 no)", _get(*run, "sales_match"), ".0f"),
        ("  unique ids sent", _get(*run, "unique_ids_sent"), ",.0f"),
        ("  projection lag after the load, s", _get(*run, "projection_lag_s"), ".2f"),
        ("  CPU ms per webhook: service", _get(*run, "cpu_ms_per_webhook", "service"), ".2f"),
        ("  CPU ms per webhook: PostgreSQL", _get(*run, "cpu_ms_per_webhook", "postgres"), ".2f"),
    ]


def _open_rows(i: int, rate: float) -> list[Row]:
    run = ("open", i)
    return [
        (
            f"open loop, {rate:,.0f}/s: p50 / p99 / max, ms|open loop, {rate:,.0f}/s: p50, ms",
            _get(*run, "latency_ms", "p50"),
            ".1f",
        ),
        ("+  p99, ms", _get(*run, "latency_ms", "p99"), ".1f"),
        ("+  max, ms", _get(*run, "latency_ms", "max"), ".1f"),
        ("  errors (non-2xx, timeouts)", _get(*run, "errors"), ".0f"),
        ("  sender's own lag p99, ms", _get(*run, "send_lag_ms", "p99"), ".1f"),
        ("  projection lag after the last answer, s", _get(*run, "projection_lag_s"), ".2f"),
    ]


def _overload_rows(seconds: float) -> list[Row]:
    o = ("overload",)
    return [
        (f"overload (2x capacity, {seconds:.0f} s): rate/s", _get(*o, "rate"), ",.0f"),
        (
            "  answered within 5 s, of sent|  answered within 5 s",
            _get(*o, "answered_within_5s"),
            ",.0f",
        ),
        ("+  sent", _get(*o, "sent"), ",.0f"),
        ("  latency p99 / max, ms|  latency p99, ms", _get(*o, "latency_ms", "p99"), ",.0f"),
        ("+  latency max, ms", _get(*o, "latency_ms", "max"), ",.0f"),
        ("  non-2xx / timeouts|  non-2xx", _get(*o, "non_2xx"), ".0f"),
        ("+  timeouts", _get(*o, "timeouts"), ".0f"),
        ("  time to drain (last send to caught up), s", _get(*o, "drain_s"), ".2f"),
        ("  acknowledged orders lost (-: never caught up)", _get(*o, "acknowledged_lost"), ".0f"),
    ]


def _rows(report: dict[str, Any]) -> list[Row]:
    settings = report["settings"]
    rows = _closed_rows("16") + _closed_rows("64")
    for i, rate in enumerate(settings["rates"]):
        if i not in _skipped(report):
            rows += _open_rows(i, rate)
    best = _get("highest_rate_p99_within_50ms")
    rows.append(("highest fixed rate with p99 <= 50 ms, /s", best, ",.0f"))
    rows += _overload_rows(settings["overload_duration"])
    rows += [
        ("library Application (8 threads): deliveries/s", _get("library", "rate"), ",.0f"),
        (
            "ceiling (bare aiohttp, 64 connections): req/s",
            _get("ceiling", "requests_per_s"),
            ",.0f",
        ),
        ("ours / library (64 connections)", _get("ours_over_library"), ".2f"),
        ("ours / ceiling (64 connections)", _get("ours_over_ceiling"), ".2f"),
        ("service RSS idle / at the end, MiB|service RSS idle, MiB", _get("rss_idle_mib"), ".0f"),
        ("+service RSS at the end, MiB", _get("rss_end_mib"), ".0f"),
        (
            "load average (1 min) at start / end of round|load average (1 min), round start",
            _get("load_average_start", 0),
            ".2f",
        ),
        ("+load average (1 min), round end", _get("load_average_end", 0), ".2f"),
    ]
    return rows


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(report: dict[str, Any]) -> str:
    rounds = report["rounds"]
    many = len(rounds) > 1
    head = ["min", "median", "max"] if many else ["round 1"]
    width = 50
    lines = [
        f"pyme-ledger webhook ingestion, {report['started']}, {report['cores']} cores,"
        f" {len(rounds)} round(s); load average {_loads(report['load_average_start'])} at start,"
        f" {_loads(report['load_average_end'])} at the end",
        "",
        f"{'':<{width}}" + "".join(f"{h:>10}" for h in head),
    ]
    line = ""
    for text, get, fmt in _rows(report):
        values = [get(r) for r in rounds]
        if many:
            spreads = spread(values)
            cells = [_cell(spreads and spreads[k], fmt) for k in ("min", "median", "max")]
        else:
            cells = [_cell(values[0], fmt)]
        # "+label": with one round, more values on the line above ("p50 / p99 / max"); with
        # several, a line of its own. "one|several": the label for each case.
        if text.startswith("+") and not many:
            line += " /" + " /".join(f"{c:>8}" for c in cells)
            continue
        if line:
            lines.append(line)
        label = text.lstrip("+").split("|")[-1 if many else 0]
        line = f"{label:<{width}}" + "".join(f"{c:>10}" for c in cells)
    lines.append(line)
    skipped = ", ".join(f"{report['settings']['rates'][i]:,.0f}" for i in _skipped(report))
    if skipped:
        lines.append(f"fixed rates not run (above twice the capacity, the overload): {skipped}/s")
    lines += _trips(report["round_trips"]) + targets(report)
    return "\n".join(lines)


def _loads(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def _trips(t: dict[str, Any]) -> list[str]:
    return [
        "",
        "round trips per webhook, counted once in process: request path"
        f" {t['new_order']:.1f} per new order, {t['redelivery']:.1f} per redelivery;",
        f"  projection runner ({t['projections']} projections) {t['runner_batched']:.1f} per"
        f" webhook applied in batches, {t['runner_one_by_one']:.1f} applied one at a time",
    ]


def _median(report: dict[str, Any], *keys: str | int) -> float | None:
    s = spread(_get(*keys)(r) for r in report["rounds"])
    return s["median"] if s else None


def _shown(value: float | None, fmt: str) -> str:
    return "not measured" if value is None else format(value, fmt)


def targets(report: dict[str, Any]) -> list[str]:
    """Issue 11's done criteria, judged on the rounds' medians."""
    rate = _median(report, "closed", "64", "requests_per_s") or 0.0
    errors = _median(report, "closed", "64", "non_2xx")
    lag = _median(report, "closed", "64", "projection_lag_s")
    at_200 = [i for i, r in enumerate(report["settings"]["rates"]) if r == 200]
    p99 = _median(report, "open", at_200[0], "latency_ms", "p99") if at_200 else None
    trips = report["round_trips"]["new_order"]
    fast = rate >= 600 and errors == 0 and lag is not None and lag <= 1
    return [
        "",
        "targets (medians): >= 600 webhooks/s at 64 connections, no non-2xx, projections"
        f" caught up within 1 s: {_verdict(fast)} ({rate:,.0f}/s, {_shown(errors, '.0f')}"
        f" non-2xx, lag {_shown(lag, '.2f')} s);",
        f"  p99 <= 50 ms at 200/s: {_verdict(p99 is not None and p99 <= 50)}"
        f" ({_shown(p99, ',.0f')}{' ms' if p99 is not None else ''});"
        f" < 6 round trips per new order: {_verdict(trips < 6)} ({trips:.1f})",
    ]


def _verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def _skipped(report: dict[str, Any]) -> list[int]:
    """The fixed rates (by index) that no round ran."""
    runs = [r["open"] for r in report["rounds"]]
    return [i for i in range(len(runs[0])) if all("skipped" in rs[i] for rs in runs)]


def _done(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [run for run in runs if "skipped" not in run]


def verified(report: dict[str, Any]) -> bool:
    """Whether every run kept exactly what it was sent, and caught up."""
    for r in report["rounds"]:
        for run in r["closed"].values():
            if not run["sales_match"] or run["projection_lag_s"] is None:
                return False
        for run in [*_done(r["open"]), r["overload"]]:
            if run["acknowledged_lost"] != 0 or run["sales_not_sent"]:
                return False
    return True


def chart(report: dict[str, Any], path: Path) -> str:
    """Latency p50 and p99 against the fixed rates (and the overload), one line per round.
    The figure is drawn without pyplot, so no display backend is ever looked for."""
    figure = Figure(figsize=(8, 5))
    axes = figure.subplots()
    for r in report["rounds"]:
        runs = sorted([*_done(r["open"]), r["overload"]], key=lambda run: run["rate"])
        rates = [run["rate"] for run in runs]
        n = r["round"]
        axes.plot(rates, [run["latency_ms"]["p50"] for run in runs], "o-", label=f"p50, round {n}")
        axes.plot(rates, [run["latency_ms"]["p99"] for run in runs], "s--", label=f"p99, round {n}")
    axes.axhline(50, color="grey", linewidth=0.8, linestyle=":", label="50 ms")
    axes.set_xscale("log")
    axes.set_yscale("log")
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(ScalarFormatter())
    axes.set_xlabel("deliveries per second (open loop; the last point is the overload)")
    axes.set_ylabel("latency from the scheduled send, ms")
    axes.set_title(f"pyme-ledger webhook latency against rate, {report['started']}")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return str(path)
