"""The coarser rollups always say what the per-key daily rollup says.

Views without keys read ScopeSpend (per environment and model); views by key read
MonthlySpend for whole months. Each test compares ``spend_report`` against sums
over ``world.buckets`` computed here, also after something changed the daily
rows: a key moved, a key registered late, a connection deleted.
"""

from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db.models import Sum

from apps.audit.services import Actor
from apps.connectors import services as connections
from apps.projects.models import EnvironmentKind
from apps.projects.tests.factories import EnvironmentFactory
from apps.spend.report import GROUPS, SpendFilters, spend_report, whole_months
from apps.spend.tests.conftest import FIRST_DAY
from apps.usage import rollups
from apps.usage.models import DailySpend, MonthlySpend, ScopeSpend, UsageBucket
from apps.vault import services as vault
from apps.vault.tests.factories import make_key

pytestmark = pytest.mark.django_db

END = FIRST_DAY + timedelta(days=4)


@contextmanager
def time_machine_today(day: date):
    """Make ``whole_months`` believe today is ``day``."""
    now = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    with mock.patch("apps.spend.report.timezone.now", return_value=now):
        yield


def costs(report) -> dict:
    return {row.group: row.cost_usd for row in report.rows}


def expected_by_environment(world) -> dict:
    """Cost per environment name ("project / kind"), from the buckets alone."""
    totals = defaultdict(Decimal)
    for bucket in world.buckets:
        key = world.key_of(bucket)
        if key is None:
            group = "unattributed"
        else:
            key.refresh_from_db()
            group = f"{key.environment.project.name} / {key.environment.kind}"
        totals[group] += bucket.cost_usd or Decimal(0)
    return dict(totals)


def test_the_scope_rollup_holds_what_the_key_rollup_holds(spend_world):
    sums = ("cost_usd", "uncached_input", "cache_read", "output", "unpriced_tokens")
    by_key = DailySpend.objects.aggregate(*(Sum(name) for name in sums))
    by_scope = ScopeSpend.objects.aggregate(*(Sum(name) for name in sums))

    assert by_scope == by_key


def test_keys_of_one_environment_share_its_rows(admin, spend_world):
    production = spend_world.environments["checkout-prod"]
    make_key(
        admin, name="pay prod 2", vendor_key_id="key_pay_prod_2", environment=production
    )
    first = spend_world.buckets[0]
    UsageBucket.objects.create(
        connection=first.connection,
        start=first.start,
        width=3600,
        vendor_key_id="key_pay_prod_2",
        vendor_model="gpt-4o",
        model="gpt-4o",
        uncached_input=10,
        output=1,
        cost_usd=Decimal("0.5"),
    )
    rollups.refresh(first.connection, [FIRST_DAY])

    rows = ScopeSpend.objects.filter(
        day=FIRST_DAY, environment=production, model="gpt-4o"
    )
    assert [row.cost_usd for row in rows] == [
        Decimal("0.012345") + Decimal("0.021") + Decimal("0.5")
    ]
    assert (
        DailySpend.objects.filter(day=FIRST_DAY, key__environment=production).count()
        == 2
    )


@pytest.mark.parametrize("group_by", [g for g in GROUPS if g != "key"])
def test_every_group_by_reads_the_same_figures_with_or_without_keys(
    finance, spend_world, group_by
):
    """A filter naming every key forces the per-key rollup; the totals agree."""
    keys = tuple(key.pk for key in spend_world.keys.values())
    through_scopes = spend_report(finance, FIRST_DAY, END, group_by)
    through_keys = spend_report(
        finance, FIRST_DAY, END, group_by, SpendFilters(key=keys)
    )
    attributed = {
        group: cost
        for group, cost in costs(through_scopes).items()
        if group != "unattributed"
    }

    if group_by in ("team", "project", "environment"):
        assert attributed == costs(through_keys)
    else:
        unattributed = sum(
            (
                bucket.cost_usd or Decimal(0)
                for bucket in spend_world.buckets
                if spend_world.key_of(bucket) is None
            ),
            Decimal(0),
        )
        assert through_scopes.total.cost_usd == (
            through_keys.total.cost_usd + unattributed
        )


def test_a_key_moved_to_another_environment_takes_its_history_along(
    admin, finance, spend_world
):
    key = spend_world.keys["pay stage"]
    sandbox = EnvironmentFactory(
        project=key.project, name="sandbox", kind=EnvironmentKind.DEVELOPMENT
    )

    vault.update_key(Actor(admin), key, environment=sandbox)

    report = costs(spend_report(finance, FIRST_DAY, END, "environment"))
    assert report == expected_by_environment(spend_world)
    assert report["Checkout / development"] == Decimal("1.50")
    assert "Checkout / staging" not in report


def test_a_key_registered_after_its_usage_is_attributed_in_every_view(
    admin, finance, spend_world
):
    nobody = "key_nobody"
    before = costs(spend_report(finance, FIRST_DAY, END, "team"))
    key, _ = make_key(
        admin,
        name="found later",
        vendor="openai",
        vendor_key_id=nobody,
        environment=spend_world.environments["checkout-prod"],
    )

    rollups.reattribute("openai")

    after = costs(spend_report(finance, FIRST_DAY, END, "team"))
    assert after["Payments"] == before["Payments"] + Decimal("0.75")
    assert after["unattributed"] == before["unattributed"] - Decimal("0.75")
    assert ScopeSpend.objects.filter(environment=key.environment).exists()


def test_deleting_a_connection_removes_its_figures_from_every_view(
    admin, finance, spend_world
):
    connections.delete_connection(Actor(admin), spend_world.connections["anthropic"])

    by_vendor = costs(spend_report(finance, FIRST_DAY, END, "vendor"))
    assert set(by_vendor) == {"openai"}
    assert not ScopeSpend.objects.filter(vendor="anthropic").exists()


def test_a_rebuild_of_the_same_days_never_doubles_a_figure(finance, spend_world):
    before = costs(spend_report(finance, FIRST_DAY, END, "model"))
    days = [FIRST_DAY + timedelta(days=n) for n in range(4)]
    for _ in range(2):
        for connection in spend_world.connections.values():
            rollups.refresh_summaries(connection, days)

    assert costs(spend_report(finance, FIRST_DAY, END, "model")) == before


# Views by key read whole months from MonthlySpend and the days around them from
# DailySpend.

NOVEMBER = date(2026, 11, 1)


def expected_by_key(world, visible=lambda key: True) -> dict:
    totals = defaultdict(Decimal)
    for bucket in world.buckets:
        key = world.key_of(bucket)
        if key is None:
            if visible(None):
                totals[bucket.vendor_key_id] += bucket.cost_usd or Decimal(0)
        elif visible(key):
            totals[key.name] += bucket.cost_usd or Decimal(0)
    return dict(totals)


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2026, 11, 1), date(2026, 12, 1), [date(2026, 11, 1)]),
        (date(2026, 10, 15), date(2027, 1, 1), [date(2026, 11, 1), date(2026, 12, 1)]),
        (date(2026, 11, 2), date(2026, 12, 1), []),
        (date(2026, 11, 1), date(2026, 11, 30), []),
        # The current month up to today holds all its usage so far.
        (date(2026, 12, 1), date(2026, 12, 5), [date(2026, 12, 1)]),
        (date(2026, 12, 1), date(2026, 12, 4), []),
    ],
)
def test_whole_months_are_those_the_period_covers_up_to_today(start, end, months):
    with time_machine_today(date(2026, 12, 4)):
        assert whole_months(start, end) == months


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (NOVEMBER, date(2026, 12, 1)),
        (date(2026, 10, 20), date(2026, 12, 10)),
        (date(2026, 11, 3), date(2026, 12, 1)),
        (NOVEMBER, date(2026, 11, 4)),
    ],
)
def test_a_report_by_key_adds_up_however_the_period_falls_on_months(
    finance, spend_world, start, end
):
    in_period = [
        bucket for bucket in spend_world.buckets if start <= bucket.start.date() < end
    ]
    world = type(spend_world)(buckets=in_period, keys=spend_world.keys)

    report = costs(spend_report(finance, start, end, "key"))

    assert report == expected_by_key(world)


def test_an_engineer_reads_only_their_teams_keys_from_whole_months(
    engineer, spend_world
):
    report = costs(spend_report(engineer, NOVEMBER, date(2026, 12, 1), "key"))

    payments = spend_world.teams["payments"]
    assert report == expected_by_key(
        spend_world, lambda key: key is not None and key.project.team == payments
    )


def test_a_key_attributed_late_shows_in_its_whole_months(admin, finance, spend_world):
    make_key(
        admin,
        name="found later",
        vendor="openai",
        vendor_key_id="key_nobody",
        environment=spend_world.environments["checkout-prod"],
    )

    rollups.reattribute("openai")

    report = costs(spend_report(finance, NOVEMBER, date(2026, 12, 1), "key"))
    assert report["found later"] == Decimal("0.75")
    assert "key_nobody" not in report
    assert MonthlySpend.objects.filter(month=NOVEMBER, key__name="found later").exists()
