"""Spend figures shaped for templates/spend/chart.html (Chart.js, with a table)."""

from datetime import date, timedelta
from decimal import Decimal

from apps.spend.query import today
from apps.spend.report import SpendReport, dates_between, spend_by_day

# More stacked series than this stop being readable; the rest is one "other".
STACKED_SERIES = 8


def chart(labels, series: dict[str, list], *, kind="bar", stacked=False, unit="USD"):
    """The chart's JSON and the same figures transposed, for the table fallback."""
    return {
        "type": kind,
        "stacked": stacked,
        "unit": unit,
        "labels": [str(label) for label in labels],
        "series": [
            {"label": name, "values": values} for name, values in series.items()
        ],
        "rows": [
            {"label": str(label), "values": [values[i] for values in series.values()]}
            for i, label in enumerate(labels)
        ],
    }


def daily_chart(daily: dict[date, Decimal], start: date, end: date | None = None):
    """Cost per day from ``start`` through today (or to ``end``, exclusive)."""
    days = dates_between(start, end or today() + timedelta(days=1))
    return chart(days, {"Cost": [daily.get(day, Decimal(0)) for day in days]})


def stacked_chart(user, report: SpendReport):
    """Cost per day, stacked by the report's largest groups."""
    if report.group_by == "day":
        daily = {date.fromisoformat(row.group): row.cost_usd for row in report.rows}
        return daily_chart(daily, report.start, report.end)
    top = [row for row in report.rows if row.cost_usd][:STACKED_SERIES]
    days, series, other = spend_by_day(
        user, report.start, report.end, report.group_by, report.filters, top
    )
    named = {}
    for row in top:
        label = row.group if row.group not in named else f"{row.group} ({row.slug})"
        named[label] = series[row.slug]
    if any(other):
        named["Other"] = other
    return chart(days, named, stacked=True)
