"""The OpenAI connector, over real HTTP against the simulator."""

import copy
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.connectors.rows import CostRow, UsageRow
from apps.connectors.simulator import running_simulator
from apps.connectors.simulator.org import (
    BATCH_DISCOUNT,
    OPENAI_EMBEDDING_PRICES,
    OPENAI_PRICES,
)
from apps.connectors.tests.conftest import no_sleep
from apps.connectors.vendors.base import ConnectorError
from apps.connectors.vendors.openai import (
    COMPLETIONS,
    COSTS,
    EMBEDDINGS,
    HOURS_PER_PAGE,
)
from apps.connectors.vendors.openai import OpenAIConnector as Connector

# 2025-11-01T00:00:00Z: a fixed clock, so the window below lies in the past.
NOW = 1761955200
END = datetime.fromtimestamp(NOW, UTC)
START = END - timedelta(hours=48)
HOURS = range(NOW - 48 * 3600, NOW, 3600)

# The documented example responses of vendor-apis.md §1.1 and §1.3, verbatim.
COMPLETIONS_EXAMPLE = {
    "object": "page",
    "data": [
        {
            "object": "bucket",
            "start_time": 1730419200,
            "end_time": 1730505600,
            "results": [
                {
                    "object": "organization.usage.completions.result",
                    "input_tokens": 1000,
                    "input_cached_tokens": 400,
                    "input_cache_write_tokens": 100,
                    "input_uncached_tokens": 500,
                    "output_tokens": 500,
                    "input_text_tokens": 400,
                    "output_text_tokens": 400,
                    "input_cached_text_tokens": 300,
                    "input_audio_tokens": 50,
                    "input_cached_audio_tokens": 50,
                    "output_audio_tokens": 50,
                    "input_image_tokens": 50,
                    "input_cached_image_tokens": 50,
                    "output_image_tokens": 50,
                    "num_model_requests": 5,
                    "project_id": None,
                    "user_id": None,
                    "api_key_id": None,
                    "model": None,
                    "batch": None,
                    "service_tier": None,
                }
            ],
        }
    ],
    "has_more": True,
    "next_page": "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=",
}
COSTS_EXAMPLE = {
    "object": "page",
    "data": [
        {
            "object": "bucket",
            "start_time": 1730419200,
            "end_time": 1730505600,
            "results": [
                {
                    "object": "organization.costs.result",
                    "amount": {"value": 0.06, "currency": "usd"},
                    "line_item": None,
                    "project_id": None,
                    "api_key_id": None,
                    "quantity": None,
                    "quantity_unit": None,
                }
            ],
        }
    ],
    "has_more": False,
    "next_page": None,
}
LAST_PAGE = {"object": "page", "data": [], "has_more": False, "next_page": None}
EXAMPLE_DAY = datetime(2024, 11, 1, tzinfo=UTC)


def connector(sim, sleeps=None, **options) -> Connector:
    sleep = no_sleep([] if sleeps is None else sleeps)
    key = sim.admin_keys["openai"]
    return Connector(sim.url, key, sleep=sleep, rng=random.Random(1), **options)


def usage_rows(canned: dict) -> list[UsageRow]:
    """Every usage row the connector reads from ``canned`` report pages."""
    canned = {EMBEDDINGS: [LAST_PAGE]} | canned
    with running_simulator(canned=canned) as sim, connector(sim) as openai:
        return [row for page in openai.usage_pages(START, END) for row in page]


def cost_rows(canned: dict) -> list[CostRow]:
    with running_simulator(canned=canned) as sim, connector(sim) as openai:
        return [row for page in openai.cost_pages(START, END) for row in page]


def example_result(**changes) -> dict:
    """The documented completions page, its one result changed as given."""
    page = copy.deepcopy(COMPLETIONS_EXAMPLE)
    page["data"][0]["results"][0].update(changes)
    return page


def test_documented_usage_example_becomes_one_disjoint_row():
    rows = usage_rows({COMPLETIONS: [COMPLETIONS_EXAMPLE, LAST_PAGE]})

    assert rows == [
        UsageRow(
            start=EXAMPLE_DAY,
            width=86400,
            vendor_key_id="",
            vendor_project_id="",
            model="",
            service_tier="",
            batch=False,
            context_band="",
            uncached_input=500,
            cache_read=400,
            cache_write_5m=100,
            cache_write_1h=0,
            output=500,
            requests=5,
        )
    ]


def test_grouped_usage_keeps_key_project_model_and_tier():
    page = example_result(
        api_key_id="key_abc",
        project_id="proj_abc",
        model="gpt-4o-mini-2024-07-18",
        batch=True,
        service_tier="default",
    )

    (row,) = usage_rows({COMPLETIONS: [page, LAST_PAGE]})

    assert (row.vendor_key_id, row.vendor_project_id) == ("key_abc", "proj_abc")
    assert (row.model, row.service_tier, row.batch) == (
        "gpt-4o-mini-2024-07-18",
        "default",
        True,
    )


def test_uncached_input_is_derived_when_the_vendor_omits_it():
    page = example_result()
    del page["data"][0]["results"][0]["input_uncached_tokens"]

    (row,) = usage_rows({COMPLETIONS: [page, LAST_PAGE]})

    assert row.uncached_input == 500


def test_counts_that_do_not_add_up_are_logged_and_the_itemized_ones_kept(caplog):
    page = example_result(input_tokens=1200)

    (row,) = usage_rows({COMPLETIONS: [page, LAST_PAGE]})

    assert row.uncached_input == 500
    assert "input_tokens 1200 is not uncached 500" in caplog.text


def test_results_of_other_kinds_in_a_page_are_ignored():
    page = example_result()
    other = {"object": "organization.usage.images.result", "images": 3}
    page["data"][0]["results"].append(other)

    assert len(usage_rows({COMPLETIONS: [page, LAST_PAGE]})) == 1


def test_embeddings_count_as_uncached_input_without_output():
    embeddings = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1730419200,
                "end_time": 1730422800,
                "results": [
                    {
                        "object": "organization.usage.embeddings.result",
                        "input_tokens": 16000,
                        "num_model_requests": 2,
                        "project_id": "proj_abc",
                        "user_id": None,
                        "api_key_id": "key_abc",
                        "model": "text-embedding-3-small",
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }

    (row,) = usage_rows({COMPLETIONS: [LAST_PAGE], EMBEDDINGS: [embeddings]})

    assert (row.model, row.width, row.requests) == ("text-embedding-3-small", 3600, 2)
    assert (row.uncached_input, row.cache_read, row.output) == (16000, 0, 0)


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("result", "object"),
        ("result", "input_tokens"),
        ("result", "output_tokens"),
        ("result", "num_model_requests"),
        ("bucket", "start_time"),
        ("bucket", "end_time"),
        ("bucket", "results"),
        ("page", "data"),
        ("page", "has_more"),
    ],
)
def test_a_missing_required_field_is_named(where, name):
    page = copy.deepcopy(COMPLETIONS_EXAMPLE)
    bucket = page["data"][0]
    del {"page": page, "bucket": bucket, "result": bucket["results"][0]}[where][name]

    with pytest.raises(ConnectorError) as raised:
        usage_rows({COMPLETIONS: [page, LAST_PAGE]})

    assert str(raised.value) == f"unexpected response: no {name}"


@pytest.mark.parametrize("second", ["same cursor", "no cursor"])
def test_a_page_chain_that_would_loop_is_refused(second):
    again = copy.deepcopy(COMPLETIONS_EXAMPLE)
    if second == "no cursor":
        again["next_page"] = None

    with pytest.raises(ConnectorError) as raised:
        usage_rows({COMPLETIONS: [COMPLETIONS_EXAMPLE, again, again]})

    assert str(raised.value) == "unexpected response: next_page leads nowhere new"


def test_a_count_that_is_not_a_number_is_refused():
    page = example_result(output_tokens="500")

    with pytest.raises(ConnectorError, match="output_tokens is not a count"):
        usage_rows({COMPLETIONS: [page, LAST_PAGE]})


def test_documented_cost_example_is_exact_decimal_usd():
    rows = cost_rows({COSTS: [COSTS_EXAMPLE]})

    assert rows == [
        CostRow(
            day=date(2024, 11, 1),
            vendor_project_id="",
            vendor_key_id="",
            line_item="",
            amount=Decimal("0.06"),
            currency="USD",
        )
    ]


def test_grouped_cost_line_keeps_project_key_and_line_item():
    page = copy.deepcopy(COSTS_EXAMPLE)
    page["data"][0]["results"][0].update(
        amount={"value": 0.07, "currency": "usd"},
        line_item="input_tokens",
        project_id="proj_abc",
        api_key_id="key_abc",
        quantity=10000,
        quantity_unit="tokens",
    )

    (row,) = cost_rows({COSTS: [page]})

    assert (row.vendor_project_id, row.vendor_key_id) == ("proj_abc", "key_abc")
    assert row.line_item == "input_tokens"
    # Decimal(0.07) would be 0.07000000000000000666...
    assert row.amount == Decimal("0.07")


def org_usage_totals(org) -> Counter:
    """Token and request totals per (key, model), straight from the org data."""
    totals = Counter()
    for hour in HOURS:
        for row in org.openai_usage(hour):
            key = (row.api_key_id, row.model)
            totals[key, "uncached"] += row.uncached
            totals[key, "cache_read"] += row.cached
            totals[key, "cache_write"] += row.cache_write
            totals[key, "output"] += row.output
            totals[key, "requests"] += row.requests
        for row in org.openai_embeddings_usage(hour):
            totals[(row.api_key_id, row.model), "uncached"] += row.input_tokens
            totals[(row.api_key_id, row.model), "requests"] += row.requests
    return +totals


def test_usage_pages_add_up_to_the_organizations_usage():
    with running_simulator(clock=lambda: NOW, page_cap=12) as sim:
        with connector(sim) as openai:
            pages = list(openai.usage_pages(START, END))
        expected = org_usage_totals(sim.org)

    totals = Counter()
    for row in (row for page in pages for row in page):
        key = (row.vendor_key_id, row.model)
        totals[key, "uncached"] += row.uncached_input
        totals[key, "cache_read"] += row.cache_read
        totals[key, "cache_write"] += row.cache_write_5m
        totals[key, "output"] += row.output
        totals[key, "requests"] += row.requests
    # The same pages of hours for completions, then for embeddings.
    assert len(pages) == 2 * ((END - START) // timedelta(hours=HOURS_PER_PAGE))
    assert +totals == expected
    assert any(row.batch for page in pages for row in page)


def org_cost(org) -> Decimal:
    million = Decimal(1_000_000)
    total = Decimal(0)
    for hour in HOURS:
        for row in org.openai_usage(hour):
            input_price, cached_price, output_price = OPENAI_PRICES[row.model]
            factor = BATCH_DISCOUNT if row.batch else 1
            cost = (
                (row.uncached + row.cache_write) * input_price
                + row.cached * cached_price
                + row.output * output_price
            )
            total += cost * factor / million
        for row in org.openai_embeddings_usage(hour):
            total += row.input_tokens * OPENAI_EMBEDDING_PRICES[row.model] / million
    return total


def test_cost_pages_add_up_to_the_organizations_cost():
    with running_simulator(clock=lambda: NOW, page_cap=1) as sim:
        with connector(sim) as openai:
            pages = list(openai.cost_pages(START, END))
        expected = org_cost(sim.org)

    rows = [row for page in pages for row in page]
    assert len(pages) == 2
    assert {row.day for row in rows} == {date(2025, 10, 30), date(2025, 10, 31)}
    assert {row.currency for row in rows} == {"USD"}
    assert all(row.vendor_key_id and row.line_item for row in rows)
    # Each line arrives as a float rounded to eight places.
    assert abs(sum(row.amount for row in rows) - expected) < Decimal("0.000001")


def test_429_waits_as_long_as_retry_after_says():
    sleeps = []
    faults = [{"mode": "429", "count": 1, "retry_after": 7}]
    with (
        running_simulator(clock=lambda: NOW, faults=faults) as sim,
        connector(sim, sleeps) as openai,
    ):
        pages = list(openai.cost_pages(START, END))

    assert sleeps == [7.0]
    assert pages[0]


def fault_reason(mode: str, sleeps=None) -> str:
    with (
        running_simulator(clock=lambda: NOW, faults=[{"mode": mode}]) as sim,
        connector(sim, sleeps) as openai,
        pytest.raises(ConnectorError) as raised,
    ):
        list(openai.usage_pages(START, END))
    return str(raised.value)


def test_an_outage_is_retried_then_reported():
    sleeps = []

    assert fault_reason("503", sleeps) == "vendor unavailable (503) after 3 attempts"
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("malformed", "unexpected response: not JSON"),
        ("truncated", "unexpected response: cut short 3 times"),
        ("missing_fields", "unexpected response: no start_time"),
    ],
)
def test_a_broken_body_is_one_readable_line(mode, reason):
    assert fault_reason(mode) == reason


def test_fields_added_by_a_newer_api_are_ignored():
    def all_rows(faults):
        with (
            running_simulator(clock=lambda: NOW, faults=faults) as sim,
            connector(sim) as openai,
        ):
            usage = [r for p in openai.usage_pages(START, END) for r in p]
            costs = [r for p in openai.cost_pages(START, END) for r in p]
            keys = list(openai.list_keys())
        return usage, costs, keys

    assert all_rows([{"mode": "extra_fields"}]) == all_rows([])


def test_list_keys_walks_every_page_of_every_project():
    with running_simulator(page_cap=1) as sim, connector(sim) as openai:
        keys = list(openai.list_keys())
        projects = {project.id: project for project in sim.org.projects}
        synthetic = {key.id: key for key in sim.org.openai_keys}

    assert {key.vendor_key_id for key in keys} == set(synthetic)
    for key in keys:
        assert key.vendor_project_id == synthetic[key.vendor_key_id].project_id
        assert key.vendor_project_id in projects
        assert key.status == "active"
        assert key.redacted.startswith("sk-proj-...")
        assert key.created_at.tzinfo is UTC
        assert key.last_used_at is None


def test_admin_keys_are_not_in_the_inventory():
    with running_simulator() as sim, connector(sim) as openai:
        names = {key.name for key in openai.list_keys()}

    assert "Keyhold connector" not in names


def test_revoked_user_key_is_gone_from_a_later_list():
    with running_simulator() as sim, connector(sim) as openai:
        key = next(k for k in openai.list_keys() if k.name == "Payments key 1")
        openai.revoke_key(key.vendor_key_id, key.vendor_project_id)
        remaining = {k.vendor_key_id for k in openai.list_keys()}

    assert key.vendor_key_id not in remaining
    assert len(remaining) == 9


def test_revoking_needs_the_project():
    with running_simulator() as sim, connector(sim) as openai:
        key = next(iter(openai.list_keys()))
        with pytest.raises(ConnectorError) as raised:
            openai.revoke_key(key.vendor_key_id, "")

    assert str(raised.value) == (
        "OpenAI revokes a key only within its project, and none is known for this "
        "key: revoke it in the OpenAI dashboard"
    )


def test_created_key_secret_is_returned_once_and_the_key_listed():
    with running_simulator() as sim, connector(sim) as openai:
        project = sim.org.projects[1].id
        created = openai.create_key(project, "checkout-service")
        listed = {k.vendor_key_id: k for k in openai.list_keys()}

    assert created.vendor_project_id == project
    assert created.secret.startswith("sk-svcacct-")
    key = listed[created.vendor_key_id]
    assert key.vendor_project_id == project
    assert created.secret not in key.redacted
    assert key.redacted.endswith(created.secret[-4:])


def test_a_created_key_can_be_revoked_with_its_service_account():
    with running_simulator() as sim, connector(sim) as openai:
        created = openai.create_key(sim.org.projects[0].id, "nightly-report")
        openai.revoke_key(created.vendor_key_id, created.vendor_project_id)
        remaining = {k.vendor_key_id for k in openai.list_keys()}

    assert created.vendor_key_id not in remaining
    assert len(remaining) == 10


def test_a_key_whose_service_account_has_others_is_left_to_the_dashboard():
    with running_simulator() as sim, connector(sim) as openai:
        created = openai.create_key(sim.org.projects[0].id, "nightly-report")
        project = f"/v1/organization/projects/{created.vendor_project_id}"
        key_path = f"{project}/api_keys/{created.vendor_key_id}"
        account = openai.client.get_json(key_path)["owner"]["service_account"]
        openai.client.post_json(
            f"{project}/service_accounts/{account['id']}/api_keys",
            {"name": "second"},
            idempotent=False,
        )
        with pytest.raises(ConnectorError) as raised:
            openai.revoke_key(created.vendor_key_id, created.vendor_project_id)
        remaining = {k.vendor_key_id for k in openai.list_keys()}

    assert created.vendor_key_id in remaining
    assert str(raised.value) == (
        "this key's service account nightly-report holds 1 more key: "
        "revoke it in the OpenAI dashboard"
    )


def test_creating_needs_the_project():
    with (
        running_simulator() as sim,
        connector(sim) as openai,
        pytest.raises(ConnectorError, match="only within a project: pick one"),
    ):
        openai.create_key("", "orphan")


def test_a_create_that_met_an_outage_is_not_sent_again():
    faults = [{"mode": "503", "count": 1}]
    with running_simulator(faults=faults) as sim, connector(sim) as openai:
        with pytest.raises(ConnectorError) as raised:
            openai.create_key(sim.org.projects[0].id, "once")
        count = len(list(openai.list_keys()))

    assert "may have acted on the request" in str(raised.value)
    assert count == 10


def test_capabilities_are_all_offered():
    assert Connector.reports_usage and Connector.lists_keys
    assert Connector.revokes_keys and Connector.creates_keys
