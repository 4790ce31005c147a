"""The FOCUS 1.0 export: its columns, and its rows against the fixture buckets."""

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from apps.spend.focus import focus_rows
from apps.spend.tests.conftest import FIRST_DAY
from apps.usage.models import DailySpend

PAGE = "/spend/focus/"
API = "/api/v1/spend/focus/"
# The columns FOCUS 1.0 marks mandatory, as the specification lists them.
MANDATORY = {
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
}


def export(answer) -> list[dict]:
    assert answer.status_code == 200
    body = b"".join(answer.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def groups(world, buckets=None):
    """{(day, vendor, key name or vendor key id, model): cost} from the buckets."""
    costs = {}
    for bucket in world.buckets if buckets is None else buckets:
        key = world.key_of(bucket)
        group = (
            bucket.start.date().isoformat(),
            bucket.connection.vendor,
            key.name if key else bucket.vendor_key_id,
            bucket.model,
        )
        costs[group] = costs.get(group, Decimal(0)) + (bucket.cost_usd or 0)
    return costs


def test_header_has_every_mandatory_focus_column(spend_world, api_as):
    answer = api_as("finance").get(API, {"month": "2026-11"})

    header = next(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert set(header) >= MANDATORY
    assert {"ResourceId", "SkuId", "SubAccountId", "Tags", "ConsumedQuantity"} <= set(
        header
    )


def test_rows_are_the_buckets_per_day_key_and_model(spend_world, api_as):
    rows = export(api_as("admin").get(API, {"month": "2026-11"}))

    expected = groups(spend_world)
    assert len(rows) == len(expected)
    assert sum(Decimal(row["BilledCost"]) for row in rows) == sum(expected.values())
    assert sum(Decimal(row["EffectiveCost"]) for row in rows) == sum(expected.values())
    seen = {
        (
            row["ChargePeriodStart"][:10],
            row["SkuId"].split("/")[0],
            row["ResourceName"] or row["ResourceId"],
            row["SkuId"].split("/", 1)[1],
        ): Decimal(row["BilledCost"])
        for row in rows
    }
    assert seen == expected


def test_rows_say_what_was_charged_and_when(spend_world, api_as):
    rows = export(api_as("admin").get(API, {"month": "2026-11"}))

    key = spend_world.keys["pay prod"]
    row = next(
        r
        for r in rows
        if r["ResourceId"] == str(key.pk) and r["SkuId"] == "openai/gpt-4o-mini"
    )
    assert row["ChargePeriodStart"] == "2026-11-03T00:00:00Z"
    assert row["ChargePeriodEnd"] == "2026-11-04T00:00:00Z"
    assert row["BillingPeriodStart"] == "2026-11-01T00:00:00Z"
    assert row["BillingPeriodEnd"] == "2026-12-01T00:00:00Z"
    assert row["BilledCost"] == "0.0033"
    assert row["BillingCurrency"] == "USD"
    assert row["ChargeCategory"] == "Usage"
    assert row["ChargeClass"] == ""
    assert row["ChargeFrequency"] == "Usage-Based"
    assert row["ProviderName"] == row["PublisherName"] == "OpenAI"
    assert row["InvoiceIssuerName"] == "OpenAI"
    assert row["ServiceName"] == "OpenAI API"
    assert row["ServiceCategory"] == "AI and Machine Learning"
    assert row["ResourceName"] == "pay prod"
    assert row["ResourceType"] == "API key"
    assert row["PricingQuantity"] == row["ConsumedQuantity"] == "6800"
    assert row["PricingUnit"] == row["ConsumedUnit"] == "Tokens"
    assert row["PricingCategory"] == "Standard"
    assert row["BillingAccountName"] == "openai org"
    assert row["RegionId"] == ""


def test_tags_name_the_team_project_and_environment(spend_world, api_as):
    rows = export(api_as("admin").get(API, {"month": "2026-11"}))

    by_resource = {row["ResourceName"] or row["ResourceId"]: row for row in rows}
    assert json.loads(by_resource["pay stage"]["Tags"]) == {
        "team": "Payments",
        "project": "Checkout",
        "environment": "staging",
    }
    assert json.loads(by_resource["search claude"]["Tags"])["team"] == "Search"
    # Usage on a key nobody registered belongs to no team: it has no tags.
    assert by_resource["key_nobody"]["Tags"] == ""
    assert by_resource["key_nobody"]["ResourceType"] == "API key"


def test_unpriced_usage_says_how_many_tokens_are_unpriced(spend_world, api_as):
    rows = export(api_as("admin").get(API, {"month": "2026-11"}))

    custom = next(row for row in rows if row["SkuId"] == "openai/ft:custom")
    assert Decimal(custom["BilledCost"]) == 0
    assert custom["x_UnpricedTokens"] == "770"


@pytest.mark.parametrize(
    ("persona", "team_name"), [("engineer", "Payments"), ("outsider", "Search")]
)
def test_an_engineer_sees_only_their_teams_rows(
    spend_world, api_as, persona, team_name
):
    rows = export(api_as(persona).get(API, {"month": "2026-11"}))

    mine = [
        bucket
        for bucket in spend_world.buckets
        if (key := spend_world.key_of(bucket)) and key.project.team.name == team_name
    ]
    expected = groups(spend_world, mine)
    assert len(rows) == len(expected)
    assert {json.loads(row["Tags"])["team"] for row in rows} == {team_name}
    assert sum(Decimal(row["BilledCost"]) for row in rows) == sum(expected.values())


def test_derived_spend_without_a_usd_rate_keeps_its_own_currency(spend_world, api_as):
    DailySpend.objects.create(
        day=FIRST_DAY,
        connection=spend_world.connections["openai"],
        vendor="openai",
        derived=True,
        cost_usd=None,
        amount=Decimal("7.10"),
        currency="CNY",
    )

    rows = export(api_as("finance").get(API, {"month": "2026-11"}))

    row = next(row for row in rows if row["BillingCurrency"] == "CNY")
    assert Decimal(row["BilledCost"]) == Decimal("7.10")
    assert row["SkuId"] == row["ResourceId"] == row["PricingQuantity"] == ""
    assert "prepaid balance" in row["ChargeDescription"]


def test_page_download_is_the_api_export(spend_world, client_as, api_as):
    page = client_as("finance").get(PAGE, {"month": "2026-11"})
    api = api_as("finance").get(API, {"month": "2026-11"})

    assert page.streaming
    assert "keyhold-focus-1.0-2026-11.csv" in page["Content-Disposition"]
    assert export(page) == export(api)


def test_a_month_without_spend_is_only_the_header(spend_world, api_as):
    rows = export(api_as("admin").get(API, {"month": "2026-10"}))

    assert rows == []


def test_bad_month_is_refused_saying_the_format(api_as, client_as, db):
    api = api_as("engineer").get(API, {"month": "2026/11"})
    page = client_as("engineer").get(PAGE, {"month": "2026/11"})

    assert api.status_code == 400
    assert "YYYY-MM" in api.content.decode()
    assert page.status_code == 400
    assert "YYYY-MM" in page.content.decode()


@pytest.mark.parametrize(
    ("persona", "page_status", "api_status"),
    [
        ("admin", 200, 200),
        ("finance", 200, 200),
        ("engineer", 200, 200),
        ("outsider", 200, 200),
        ("anonymous", 302, 401),
    ],
)
def test_export_per_persona(
    spend_world, client_as, api_as, persona, page_status, api_status
):
    page = client_as(persona).get(PAGE, {"month": "2026-11"})
    api = api_as(persona).get(API, {"month": "2026-11"})

    assert page.status_code == page_status
    assert api.status_code == api_status


def test_export_reads_the_month_in_one_query(
    spend_world, finance, django_assert_num_queries
):
    with django_assert_num_queries(1):
        rows = list(focus_rows(finance, date(2026, 11, 1)))

    assert len(rows) == len(groups(spend_world))
