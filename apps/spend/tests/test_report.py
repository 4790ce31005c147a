"""Every group-by and filter of the spend report, against totals computed by hand
from the fixture buckets."""

import csv
import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.spend.report import SpendFilters, spend_report
from apps.spend.tests.conftest import FIRST_DAY

START, END = FIRST_DAY, FIRST_DAY + timedelta(days=4)
CENT = Decimal("0.01")


def tokens(bucket):
    return (
        bucket.uncached_input
        + bucket.cache_read
        + bucket.cache_write_5m
        + bucket.cache_write_1h
        + bucket.output
    )


def group_of(world, bucket, group_by):
    """(group, group_id) of a bucket, worked out from the fixture alone."""
    key = world.key_of(bucket)
    if group_by == "vendor":
        return bucket.connection.vendor, None
    if group_by == "model":
        return bucket.model, None
    if group_by == "day":
        return bucket.start.date().isoformat(), None
    if key is None:
        return (bucket.vendor_key_id if group_by == "key" else "unattributed"), None
    owner = {
        "team": key.project.team,
        "project": key.project,
        "key": key,
    }.get(group_by)
    if group_by == "environment":
        environment = key.environment
        return f"{environment.project.name} / {environment.kind}", environment.pk
    return owner.name, owner.pk


def expected(world, group_by, buckets=None):
    sums = defaultdict(lambda: defaultdict(Decimal))
    for bucket in world.buckets if buckets is None else buckets:
        figures = sums[group_of(world, bucket, group_by)]
        figures["cost_usd"] += bucket.cost_usd or 0
        figures["unpriced"] += 0 if bucket.cost_usd is not None else tokens(bucket)
        figures["input_tokens"] += bucket.uncached_input
        figures["cached_input_tokens"] += bucket.cache_read
        figures["cache_write_tokens"] += bucket.cache_write_5m + bucket.cache_write_1h
        figures["output_tokens"] += bucket.output
        figures["requests"] += bucket.requests or 0
    return {group: dict(figures) for group, figures in sums.items()}


def as_dict(report):
    return {
        (row.group, row.group_id): {
            "cost_usd": row.cost_usd,
            "unpriced": row.unpriced,
            "input_tokens": row.input_tokens,
            "cached_input_tokens": row.cached_input_tokens,
            "cache_write_tokens": row.cache_write_tokens,
            "output_tokens": row.output_tokens,
            "requests": row.requests,
        }
        for row in report.rows
    }


@pytest.mark.parametrize(
    "group_by", ["team", "project", "environment", "vendor", "model", "key", "day"]
)
def test_every_group_by_matches_the_buckets_to_the_cent(spend_world, finance, group_by):
    report = spend_report(finance, START, END, group_by)

    assert as_dict(report) == expected(spend_world, group_by)
    total = sum((b.cost_usd or 0 for b in spend_world.buckets), Decimal(0))
    assert report.total.cost_usd == total
    assert report.total.unpriced == 770


def test_unattributed_usage_is_kept_and_named_by_its_vendor_key_id(spend_world, admin):
    by_key = as_dict(spend_report(admin, START, END, "key"))
    by_team = as_dict(spend_report(admin, START, END, "team"))

    assert by_key[("key_nobody", None)]["cost_usd"] == Decimal("0.75")
    assert by_key[("apikey_nobody", None)]["cost_usd"] == Decimal("0.000123")
    assert by_team[("unattributed", None)]["cost_usd"] == Decimal("0.750123")


def test_rows_are_most_expensive_first_and_days_in_order(spend_world, finance):
    by_key = spend_report(finance, START, END, "key").rows
    by_day = spend_report(finance, START, END, "day").rows

    assert [row.cost_usd for row in by_key] == sorted(
        (row.cost_usd for row in by_key), reverse=True
    )
    assert [row.group for row in by_day] == [
        (FIRST_DAY + timedelta(days=n)).isoformat() for n in range(4)
    ]


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        (
            lambda w: SpendFilters(vendor=("anthropic",)),
            lambda w, b: b.connection.vendor == "anthropic",
        ),
        (
            lambda w: SpendFilters(team=(w.teams["payments"].pk,)),
            lambda w, b: b.vendor_key_id.startswith("key_pay"),
        ),
        (
            lambda w: SpendFilters(project=(w.projects["ranking"].pk,)),
            lambda w, b: "search" in b.vendor_key_id,
        ),
        (
            lambda w: SpendFilters(environment=(w.environments["checkout-stage"].pk,)),
            lambda w, b: b.vendor_key_id == "key_pay_stage",
        ),
        (
            lambda w: SpendFilters(key=(w.keys["pay prod"].pk,)),
            lambda w, b: b.vendor_key_id == "key_pay_prod",
        ),
        (
            lambda w: SpendFilters(model=("gpt-4o-2024-08-06",)),
            lambda w, b: b.model == "gpt-4o",
        ),
        (
            lambda w: SpendFilters(vendor=("openai",), team=(w.teams["search"].pk,)),
            lambda w, b: b.vendor_key_id == "key_search",
        ),
    ],
    ids=["vendor", "team", "project", "environment", "key", "model-alias", "both"],
)
def test_filters_keep_exactly_their_buckets(spend_world, finance, filters, keep):
    report = spend_report(finance, START, END, "key", filters(spend_world))

    buckets = [b for b in spend_world.buckets if keep(spend_world, b)]
    assert buckets
    assert as_dict(report) == expected(spend_world, "key", buckets)


def test_the_period_is_start_inclusive_end_exclusive(spend_world, finance):
    second_day = FIRST_DAY + timedelta(days=1)
    report = spend_report(finance, second_day, second_day + timedelta(days=1), "day")

    assert [row.group for row in report.rows] == [second_day.isoformat()]
    buckets = [b for b in spend_world.buckets if b.start.date() == second_day]
    assert report.total.cost_usd == sum(b.cost_usd or 0 for b in buckets)


def test_engineers_see_only_their_teams_keys(spend_world, engineer, outsider):
    mine = as_dict(spend_report(engineer, START, END, "key"))
    theirs = as_dict(spend_report(outsider, START, END, "team"))

    assert {group for group, _ in mine} == {"pay prod", "pay stage"}
    assert {group for group, _ in theirs} == {"Search"}


def test_an_engineer_filtering_on_another_team_gets_nothing(spend_world, engineer):
    search = SpendFilters(team=(spend_world.teams["search"].pk,))

    report = spend_report(engineer, START, END, "team", search)

    assert report.rows == []
    assert report.total.cost_usd == 0


def test_a_report_takes_at_most_two_queries_whatever_the_group(
    spend_world, finance, django_assert_num_queries
):
    # The sums, then the names of the teams or environments.
    for group_by in ("team", "environment"):
        with django_assert_num_queries(2):
            spend_report(finance, START, END, group_by)
    # Keys are named in the query that sums them.
    for group_by in ("key", "model"):
        with django_assert_num_queries(1):
            spend_report(finance, START, END, group_by)


# The API: the same figures as JSON and CSV, with the same permissions.


def api_rows(api, **params):
    answer = api.get("/api/v1/spend/", params)
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_api_answers_the_contract_shape(spend_world, api_as):
    body = api_rows(
        api_as("finance"), start=START.isoformat(), end=END.isoformat(), group_by="team"
    )

    assert set(body) == {"start", "end", "group_by", "currency", "rows", "total"}
    assert (body["start"], body["end"], body["currency"]) == (
        "2026-11-02",
        "2026-11-06",
        "USD",
    )
    payments = next(row for row in body["rows"] if row["group"] == "Payments")
    assert payments["group_id"] == spend_world.teams["payments"].pk
    assert Decimal(payments["cost_usd"]) == Decimal("1.536645")
    assert payments["unpriced"] == 770
    assert payments["input_tokens"] == 9000
    assert payments["cached_input_tokens"] == 1200
    assert payments["requests"] == 22
    unattributed = next(row for row in body["rows"] if row["group_id"] is None)
    assert unattributed["group"] == "unattributed"
    assert Decimal(body["total"]["cost_usd"]) == sum(
        (b.cost_usd or 0 for b in spend_world.buckets), Decimal(0)
    )


def test_api_csv_holds_the_same_rows(spend_world, api_as):
    params = {"start": START, "end": END, "group_by": "model", "vendor": "openai"}
    body = api_rows(api_as("admin"), **params)

    answer = api_as("admin").get("/api/v1/spend/", params | {"format": "csv"})

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert "attachment" in answer["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert [line["group"] for line in lines] == [row["group"] for row in body["rows"]]
    assert [Decimal(line["cost_usd"]) for line in lines] == [
        Decimal(row["cost_usd"]) for row in body["rows"]
    ]
    assert lines[0].keys() == body["rows"][0].keys()


def test_api_filters_take_comma_separated_and_repeated_ids(spend_world, api_as):
    keys = spend_world.keys
    a, b = keys["pay prod"].pk, keys["search"].pk
    base = {"start": START, "end": END, "group_by": "key"}

    comma = api_rows(api_as("finance"), **base, key=f"{a},{b}")
    repeated = (
        api_as("finance")
        .get(f"/api/v1/spend/?start={START}&end={END}&group_by=key&key={a}&key={b}")
        .json()
    )

    assert {row["group_id"] for row in comma["rows"]} == {a, b}
    assert repeated["rows"] == comma["rows"]


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"start": "2026-13-01"}, "start", "YYYY-MM-DD"),
        ({"start": "2026-11-05", "end": "2026-11-05"}, "end", "after start"),
        ({"start": "2020-01-01", "end": "2026-11-05"}, "end", "at most"),
        ({"group_by": "colour"}, "group_by", "one of"),
        ({"team": "payments"}, "team", "ids"),
    ],
)
def test_api_refuses_bad_parameters_saying_what_to_do(api_as, params, field, says):
    answer = api_as("finance").get("/api/v1/spend/", params)

    assert answer.status_code == 400
    assert says in " ".join(answer.json()[field])


def test_api_defaults_to_this_month_by_team(api_as, db):
    body = api_rows(api_as("engineer"))

    today = date.today()
    assert body["start"] == today.replace(day=1).isoformat()
    assert body["end"] == (today + timedelta(days=1)).isoformat()
    assert body["group_by"] == "team"


@pytest.mark.parametrize(
    ("persona", "teams"),
    [
        ("admin", {"Payments", "Search", "unattributed"}),
        ("finance", {"Payments", "Search", "unattributed"}),
        ("engineer", {"Payments"}),
        ("outsider", {"Search"}),
    ],
)
def test_api_spend_per_persona(spend_world, api_as, persona, teams):
    body = api_rows(api_as(persona), start=START, end=END, group_by="team")

    assert {row["group"] for row in body["rows"]} == teams


def test_api_refuses_anonymous_callers(api_as, db):
    assert api_as("anonymous").get("/api/v1/spend/").status_code == 401
