"""The monthly chargeback: each vendor's bill split per team, to the cent, with the
expected figures worked out from the fixture buckets and reported costs alone."""

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from apps.spend import chargeback as chargeback_module
from apps.spend.chargeback import monthly_chargeback, parse_month
from apps.spend.tests.conftest import FIRST_DAY
from apps.usage.models import DailySpend, ReportedCost

MONTH = date(2026, 11, 1)
CENT = Decimal("0.01")
PAGE = "/spend/chargeback/"
API = "/api/v1/spend/chargeback/"


def cents(value) -> Decimal:
    return Decimal(value).quantize(CENT, ROUND_HALF_UP)


def tokens(bucket) -> int:
    return (
        bucket.uncached_input
        + bucket.cache_read
        + bucket.cache_write_5m
        + bucket.cache_write_1h
        + bucket.output
    )


def computed(world):
    """{(vendor, team name or None): cost} and {team name or None: unpriced}."""
    costs, unpriced = defaultdict(Decimal), defaultdict(int)
    for bucket in world.buckets:
        key = world.key_of(bucket)
        team = key.project.team.name if key else None
        costs[bucket.connection.vendor, team] += bucket.cost_usd or 0
        if bucket.cost_usd is None:
            unpriced[team] += tokens(bucket)
    return costs, unpriced


def columns_by_vendor(report):
    return {column.connection.vendor: i for i, column in enumerate(report.columns)}


def line(report, name):
    return next(line for line in report.lines if line.name == name)


UNREGISTERED = "Unallocated: usage on unregistered keys"
GAP = "Unallocated: reported minus computed"


def test_each_vendor_column_adds_up_to_its_reported_total(
    admin, spend_world, reported_costs
):
    report = monthly_chargeback(admin, MONTH)

    for index, column in enumerate(report.columns):
        reported = reported_costs[column.connection.vendor]
        assert column.total_usd == cents(reported)
        assert sum(line.amounts[index] for line in report.lines) == cents(reported)
    assert report.total_usd == sum(cents(v) for v in reported_costs.values())
    assert sum(line.total_usd for line in report.lines) == report.total_usd


def test_team_lines_carry_their_computed_cost(admin, spend_world, reported_costs):
    report = monthly_chargeback(admin, MONTH)
    costs, _ = computed(spend_world)

    position = columns_by_vendor(report)
    for team in ("Payments", "Search"):
        amounts = line(report, team).amounts
        for vendor, index in position.items():
            assert amounts[index] == cents(costs[vendor, team])
    assert [item.name for item in report.lines] == [
        "Payments",
        "Search",
        UNREGISTERED,
        GAP,
    ]


def test_usage_on_unregistered_keys_is_its_own_line(admin, spend_world, reported_costs):
    report = monthly_chargeback(admin, MONTH)
    costs, _ = computed(spend_world)

    amounts = line(report, UNREGISTERED).amounts
    for vendor, index in columns_by_vendor(report).items():
        assert amounts[index] == cents(costs[vendor, None])
    assert amounts[columns_by_vendor(report)["openai"]] == Decimal("0.75")


def test_gap_line_is_reported_minus_computed(admin, spend_world, reported_costs):
    report = monthly_chargeback(admin, MONTH)
    costs, _ = computed(spend_world)

    gaps = line(report, GAP).amounts
    for vendor, index in columns_by_vendor(report).items():
        allocated = sum(
            cents(cost) for (v, _team), cost in costs.items() if v == vendor
        )
        assert gaps[index] == cents(reported_costs[vendor]) - allocated
    position = columns_by_vendor(report)
    # OpenAI billed more than Keyhold computed, Anthropic less.
    assert gaps[position["openai"]] == Decimal("0.46")
    assert gaps[position["anthropic"]] == Decimal("-0.08")


def test_unpriced_tokens_are_shown_per_team(admin, spend_world, reported_costs):
    report = monthly_chargeback(admin, MONTH)
    _, unpriced = computed(spend_world)

    assert line(report, "Payments").unpriced_tokens == unpriced["Payments"] == 770
    assert line(report, "Search").unpriced_tokens == 0


def test_connection_without_reported_cost_bills_its_computed_total(
    admin, spend_world, reported_costs
):
    anthropic = spend_world.connections["anthropic"]
    ReportedCost.objects.filter(connection=anthropic).delete()
    costs, _ = computed(spend_world)

    report = monthly_chargeback(admin, MONTH)

    index = columns_by_vendor(report)["anthropic"]
    column = report.columns[index]
    assert column.reported_usd is None
    assert column.total_usd == cents(costs["anthropic", "Search"]) + cents(
        costs["anthropic", None]
    )
    assert line(report, GAP).amounts[index] == 0


def test_reported_cost_in_another_currency_is_listed_not_counted(
    admin, spend_world, reported_costs
):
    report = monthly_chargeback(admin, MONTH)

    column = report.columns[columns_by_vendor(report)["anthropic"]]
    assert column.not_counted == [("reported", "EUR", Decimal("4.00"))]
    assert column.total_usd == cents(reported_costs["anthropic"])


def test_derived_spend_is_unallocated_unless_its_rows_have_a_key(
    admin, spend_world, reported_costs
):
    openai = spend_world.connections["openai"]
    derived = {"connection": openai, "vendor": "openai", "derived": True}
    DailySpend.objects.create(day=FIRST_DAY, cost_usd=Decimal("2.00"), **derived)
    DailySpend.objects.create(
        day=FIRST_DAY,
        vendor_key_id="proj_checkout",
        key=spend_world.keys["pay prod"],
        cost_usd=Decimal("1.00"),
        **derived,
    )
    DailySpend.objects.create(
        day=FIRST_DAY,
        vendor_key_id="proj_cny",
        cost_usd=None,
        amount=Decimal("7.10"),
        currency="CNY",
        **derived,
    )
    costs, _ = computed(spend_world)

    report = monthly_chargeback(admin, MONTH)

    index = columns_by_vendor(report)["openai"]
    assert line(report, UNREGISTERED).amounts[index] == cents(
        costs["openai", None]
    ) + Decimal("2.00")
    assert line(report, "Payments").amounts[index] == cents(
        costs["openai", "Payments"]
    ) + Decimal("1.00")
    assert report.columns[index].total_usd == cents(reported_costs["openai"])
    assert report.columns[index].not_counted == [("derived", "CNY", Decimal("7.10"))]


def test_api_csv_holds_the_same_figures_as_the_json(
    spend_world, reported_costs, api_as
):
    body = api_as("finance").get(API, {"month": "2026-11"}).json()

    answer = api_as("finance").get(API, {"month": "2026-11", "format": "csv"})

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert "chargeback-2026-11.csv" in answer["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    names = [column["connection"] for column in body["columns"]]
    assert rows[0] == ["kind", "team_id", "name", *names, "total_usd", "unpriced"]
    for row, item in zip(rows[1:-1], body["lines"], strict=True):
        assert row[2] == item["name"]
        assert row[3:-2] == item["amounts"]
        assert row[-2] == item["total_usd"]
        assert int(row[-1]) == item["unpriced_tokens"]
    assert rows[-1][3:-2] == body["totals"]["amounts"]
    assert rows[-1][-2] == body["totals"]["total_usd"]
    assert Decimal(body["totals"]["total_usd"]) == sum(reported_costs.values())


def test_page_csv_is_the_api_csv(spend_world, reported_costs, client_as, api_as):
    page = client_as("admin").get(PAGE, {"month": "2026-11", "format": "csv"})
    api = api_as("admin").get(API, {"month": "2026-11", "format": "csv"})

    assert page.status_code == 200
    assert "attachment" in page["Content-Disposition"]
    assert page.content == api.content


def test_page_shows_teams_by_vendor_with_the_method(
    spend_world, reported_costs, client_as
):
    answer = client_as("finance").get(PAGE, {"month": "2026-11"})

    page = answer.content.decode()
    assert answer.status_code == 200
    for text in ("Payments", "Search", UNREGISTERED, GAP, "openai org"):
        assert text in page
    assert 'id="method"' in page
    assert "$5.00" in page  # OpenAI's reported total
    assert "/spend/focus/?month=2026-11" in page
    assert "format=csv" in page
    assert "4.00 EUR" in page


@pytest.mark.parametrize("typed", ["2026-13", "november", "2026-1", "2026-11-02"])
def test_api_refuses_a_bad_month_saying_the_format(api_as, db, typed):
    answer = api_as("admin").get(API, {"month": typed})

    assert answer.status_code == 400
    assert "YYYY-MM" in " ".join(answer.json()["month"])


def test_page_shows_a_bad_month_error_keeping_what_was_typed(client_as, db):
    answer = client_as("admin").get(PAGE, {"month": "Nov 2026"})

    page = answer.content.decode()
    assert "month must be a month as YYYY-MM" in page
    assert 'value="Nov 2026"' in page
    assert 'id="chargeback"' not in page


def test_month_defaults_to_the_previous_complete_month(monkeypatch, api_as, db):
    monkeypatch.setattr(chargeback_module, "today", lambda: date(2026, 1, 15))

    body = api_as("finance").get(API).json()

    assert parse_month("") == date(2025, 12, 1)
    assert (body["start"], body["end"]) == ("2025-12-01", "2026-01-01")


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 200),
        ("finance", 200),
        ("engineer", 403),
        ("outsider", 403),
        ("anonymous", 302),
    ],
)
def test_page_per_persona(spend_world, client_as, persona, status):
    assert client_as(persona).get(PAGE, {"month": "2026-11"}).status_code == status


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 200),
        ("finance", 200),
        ("engineer", 403),
        ("outsider", 403),
        ("anonymous", 401),
    ],
)
def test_api_per_persona(spend_world, api_as, persona, status):
    assert api_as(persona).get(API, {"month": "2026-11"}).status_code == status


def test_engineer_cannot_read_the_chargeback_even_with_a_bad_month(api_as, db):
    assert api_as("engineer").get(API, {"month": "nope"}).status_code == 403


def test_chargeback_takes_five_queries_whatever_the_month_holds(
    admin, spend_world, reported_costs, django_assert_num_queries
):
    with django_assert_num_queries(5):
        monthly_chargeback(admin, MONTH)
