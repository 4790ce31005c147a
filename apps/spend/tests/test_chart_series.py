"""The explorer's stacked chart: each large group per day, the rest as one series."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.spend.report import SpendFilters, spend_by_day, spend_report
from apps.spend.tests.conftest import FIRST_DAY

pytestmark = pytest.mark.django_db

END = FIRST_DAY + timedelta(days=4)


def by_day(world, group_of) -> dict:
    """{group: {day: cost}} from the buckets alone."""
    costs = defaultdict(lambda: defaultdict(Decimal))
    for bucket in world.buckets:
        day = bucket.start.date()
        costs[group_of(bucket)][day] += bucket.cost_usd or Decimal(0)
    return costs


def key_group(world):
    def group_of(bucket):
        key = world.key_of(bucket)
        return key.name if key else bucket.vendor_key_id

    return group_of


@pytest.mark.parametrize("top", [1, 2, 3])
def test_the_largest_keys_have_their_own_series_and_the_rest_adds_up(
    finance, spend_world, top
):
    report = spend_report(finance, FIRST_DAY, END, "key")
    groups = report.rows[:top]
    days, series, other = spend_by_day(
        finance, FIRST_DAY, END, "key", SpendFilters(), groups
    )

    expected = by_day(spend_world, key_group(spend_world))
    for row in groups:
        assert series[row.slug] == [expected[row.group][day] for day in days]
    shown = {row.group for row in groups}
    assert other == [
        sum(
            (costs[day] for group, costs in expected.items() if group not in shown),
            Decimal(0),
        )
        for day in days
    ]


def test_an_unregistered_key_among_the_largest_gets_its_own_series(
    finance, spend_world
):
    report = spend_report(finance, FIRST_DAY, END, "key")
    unknown = next(row for row in report.rows if row.group == "key_nobody")

    _, series, other = spend_by_day(
        finance, FIRST_DAY, END, "key", SpendFilters(), [unknown]
    )

    assert series[unknown.slug] == [Decimal("0.75"), 0, 0, 0]
    assert sum(other) == report.total.cost_usd - Decimal("0.75")


def test_team_series_keep_unattributed_usage_apart(finance, spend_world):
    report = spend_report(finance, FIRST_DAY, END, "team")
    _, series, other = spend_by_day(
        finance, FIRST_DAY, END, "team", SpendFilters(), report.rows
    )

    unattributed = next(row for row in report.rows if row.group_id is None)
    # key_nobody 0.75 on day 0; apikey_nobody 0.000123 on day 3.
    assert series[unattributed.slug] == [Decimal("0.75"), 0, 0, Decimal("0.000123")]
    assert other == [0, 0, 0, 0]
