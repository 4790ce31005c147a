"""A small organization's usage, stored through the real rollup.

``spend_world`` writes hourly buckets with hand-chosen costs for the Payments team
(the ``engineer`` persona's) and the Search team (the ``outsider``'s), an
unregistered key and an unpriced model, then refreshes the rollup as a sync would.
Tests compute what they expect from ``world.buckets`` alone, never from the rollup.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.audit.services import Actor
from apps.connectors import services as connections
from apps.projects.models import EnvironmentKind
from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory
from apps.usage import rollups
from apps.usage.models import UsageBucket
from apps.vault.tests.factories import make_key

FIRST_DAY = date(2026, 11, 2)


@dataclass
class World:
    buckets: list[UsageBucket] = field(default_factory=list)
    keys: dict = field(default_factory=dict)
    projects: dict = field(default_factory=dict)
    environments: dict = field(default_factory=dict)
    connections: dict = field(default_factory=dict)
    teams: dict = field(default_factory=dict)

    def key_of(self, bucket):
        """The vault key a bucket belongs to, or None (found without the rollup)."""
        for key in self.keys.values():
            if key.vendor == bucket.connection.vendor and (
                key.vendor_key_id == bucket.vendor_key_id
            ):
                return key
        return None


def _connection(admin, vendor):
    return connections.create_connection(
        Actor(admin),
        name=f"{vendor} org",
        vendor=vendor,
        admin_key=f"{vendor}-admin-key-for-tests-0000000000",
        base_url="http://127.0.0.1:9",
    )


# (connection, vendor key id, model, day offset, hour, tokens..., cost or None)
USAGE = [
    ("openai", "key_pay_prod", "gpt-4o", 0, 9, 1000, 200, 0, 0, 300, 4, "0.012345"),
    ("openai", "key_pay_prod", "gpt-4o", 0, 10, 2000, 0, 0, 0, 500, 6, "0.021"),
    ("openai", "key_pay_prod", "gpt-4o-mini", 1, 3, 5000, 1000, 0, 0, 800, 9, "0.0033"),
    ("openai", "key_pay_stage", "gpt-4o", 1, 14, 300, 0, 0, 0, 100, 1, "1.50"),
    ("openai", "key_pay_stage", "ft:custom", 2, 8, 700, 0, 0, 0, 70, 2, None),
    ("openai", "key_search", "gpt-4o", 2, 23, 900, 100, 0, 0, 90, 3, "2.25"),
    ("openai", "key_nobody", "gpt-4o", 0, 1, 400, 0, 0, 0, 40, 1, "0.75"),
    (
        "anthropic",
        "apikey_search",
        "claude-sonnet-4-5",
        1,
        5,
        100,
        5000,
        300,
        200,
        600,
        None,
        "3.333333",
    ),
    (
        "anthropic",
        "apikey_search",
        "claude-sonnet-4-5",
        3,
        5,
        50,
        0,
        0,
        0,
        60,
        None,
        "0.05",
    ),
    (
        "anthropic",
        "apikey_nobody",
        "claude-haiku-4-5",
        3,
        6,
        10,
        0,
        0,
        0,
        5,
        None,
        "0.000123",
    ),
]


@pytest.fixture
def spend_world(admin, engineer, outsider, team, other_team):
    world = World(teams={"payments": team, "search": other_team})
    world.connections = {
        vendor: _connection(admin, vendor) for vendor in ("openai", "anthropic")
    }
    checkout = ProjectFactory(team=team, name="Checkout", slug="checkout")
    ranking = ProjectFactory(team=other_team, name="Ranking", slug="ranking")
    world.projects = {"checkout": checkout, "ranking": ranking}
    world.environments = {
        "checkout-prod": EnvironmentFactory(
            project=checkout, name="production", kind=EnvironmentKind.PRODUCTION
        ),
        "checkout-stage": EnvironmentFactory(
            project=checkout, name="staging", kind=EnvironmentKind.STAGING
        ),
        "ranking-prod": EnvironmentFactory(
            project=ranking, name="production", kind=EnvironmentKind.PRODUCTION
        ),
    }
    for name, vendor, vendor_key_id, environment, owner in (
        ("pay prod", "openai", "key_pay_prod", "checkout-prod", engineer),
        ("pay stage", "openai", "key_pay_stage", "checkout-stage", engineer),
        ("search", "openai", "key_search", "ranking-prod", outsider),
        ("search claude", "anthropic", "apikey_search", "ranking-prod", outsider),
    ):
        world.keys[name], _ = make_key(
            admin,
            name=name,
            vendor=vendor,
            vendor_key_id=vendor_key_id,
            environment=world.environments[environment],
            owner=owner,
        )
    for vendor, key_id, model, offset, hour, *counts, cost in USAGE:
        uncached, cache_read, write_5m, write_1h, output, requests = counts
        world.buckets.append(
            UsageBucket.objects.create(
                connection=world.connections[vendor],
                start=datetime.combine(
                    FIRST_DAY + timedelta(days=offset), datetime.min.time(), UTC
                )
                + timedelta(hours=hour),
                width=3600,
                vendor_key_id=key_id,
                vendor_model=model,
                model=model,
                uncached_input=uncached,
                cache_read=cache_read,
                cache_write_5m=write_5m,
                cache_write_1h=write_1h,
                output=output,
                requests=requests,
                cost_usd=None if cost is None else Decimal(cost),
            )
        )
    days = [FIRST_DAY + timedelta(days=n) for n in range(4)]
    for connection in world.connections.values():
        rollups.refresh(connection, days)
    return world


# (connection, day offset, line item, amount, currency): the vendors' own bills
# for the world's month. OpenAI bills more than Keyhold computes, Anthropic less,
# and one Anthropic line is in a currency no USD bill can add.
REPORTED = [
    ("openai", 0, "gpt-4o", "3.10", "USD"),
    ("openai", 1, "gpt-4o", "1.90", "USD"),
    ("anthropic", 1, "claude-sonnet-4-5", "2.00", "USD"),
    ("anthropic", 3, "claude-sonnet-4-5", "1.30", "USD"),
    ("anthropic", 3, "claude-haiku-4-5", "4.00", "EUR"),
]


@pytest.fixture
def reported_costs(spend_world):
    """The world's vendor-reported cost lines; returns each vendor's USD total."""
    # Imported here so the fixture stays appended to the module, after the world.
    from apps.usage.models import ReportedCost

    totals = {}
    for vendor, offset, line_item, amount, currency in REPORTED:
        ReportedCost.objects.create(
            connection=spend_world.connections[vendor],
            day=FIRST_DAY + timedelta(days=offset),
            line_item=line_item,
            amount=Decimal(amount),
            currency=currency,
        )
        if currency == "USD":
            totals[vendor] = totals.get(vendor, Decimal(0)) + Decimal(amount)
    return totals
