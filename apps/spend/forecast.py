"""Month-end spend projected from recent days, weekday by weekday.

Spend follows the working week (weekdays busy, weekends quiet), so each remaining
day is expected to cost what the same weekday cost on average over the last four
weeks. Budgets and the overview both read this one projection.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from apps.spend.query import month_start
from apps.spend.report import next_month

HISTORY_DAYS = 28
METHOD = (
    "Spend so far plus, for each day left in the month, the average spend of the "
    "same weekday over the last four weeks."
)


@dataclass(frozen=True)
class Forecast:
    month: date
    spent: Decimal
    projected: Decimal
    method: str = METHOD


def history_start(today: date) -> date:
    """The first day whose spend a forecast made on ``today`` reads."""
    return min(month_start(today), today - timedelta(days=HISTORY_DAYS))


def forecast_month(daily: dict[date, Decimal], today: date) -> Forecast:
    """Project the month of ``today`` from ``daily`` cost per date.

    ``daily`` needs the days from ``history_start(today)`` through ``today``;
    missing days count as zero. Today counts with what it spent so far or its
    expected figure, whichever is larger.
    """
    first, end = month_start(today), next_month(today)
    spent = sum(
        (cost for day, cost in daily.items() if first <= day <= today), Decimal(0)
    )
    expected = _weekday_means(daily, today)
    projected = sum(
        (cost for day, cost in daily.items() if first <= day < today), Decimal(0)
    )
    projected += max(daily.get(today, Decimal(0)), expected[today.weekday()])
    day = today + timedelta(days=1)
    while day < end:
        projected += expected[day.weekday()]
        day += timedelta(days=1)
    return Forecast(month=first, spent=spent, projected=projected)


def _weekday_means(daily: dict[date, Decimal], today: date) -> list[Decimal]:
    """The mean cost of each weekday (Monday first) over the complete days before
    ``today``, from the first day with spend on; with no history, all zero."""
    window_start = today - timedelta(days=HISTORY_DAYS)
    spending_days = [day for day in daily if window_start <= day < today and daily[day]]
    if not spending_days:
        return [Decimal(0)] * 7
    totals = [Decimal(0)] * 7
    counts = [0] * 7
    day = min(spending_days)
    while day < today:
        totals[day.weekday()] += daily.get(day, Decimal(0))
        counts[day.weekday()] += 1
        day += timedelta(days=1)
    overall = sum(totals) / sum(counts)
    return [
        totals[weekday] / counts[weekday] if counts[weekday] else overall
        for weekday in range(7)
    ]
