"""Figures computed by hand from the vendors' documented example payloads."""

from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.audit.services import Actor
from apps.catalog.services import create_override
from apps.connectors.simulator.server import running_simulator
from apps.usage.models import DailySpend, ReportedCost, UsageBucket
from apps.usage.services import sync_connection
from console.celery import app

pytestmark = pytest.mark.django_db

DAY = datetime(2025, 8, 1, tzinfo=UTC)
NEXT_DAY = datetime(2025, 8, 2, tzinfo=UTC)
EMPTY_OPENAI_PAGE = {"object": "page", "data": [], "has_more": False, "next_page": None}
EMPTY_ANTHROPIC_PAGE = {"data": [], "has_more": False, "next_page": None}


def anthropic_usage(model: str) -> dict:
    """The documented usage report example (one day bucket), for ``model``."""
    return {
        "data": [
            {
                "starting_at": "2025-08-01T00:00:00Z",
                "ending_at": "2025-08-02T00:00:00Z",
                "results": [
                    {
                        "uncached_input_tokens": 1500,
                        "cache_creation": {
                            "ephemeral_1h_input_tokens": 1000,
                            "ephemeral_5m_input_tokens": 500,
                        },
                        "cache_read_input_tokens": 200,
                        "output_tokens": 500,
                        "server_tool_use": {"web_search_requests": 10},
                        "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
                        "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
                        "model": model,
                        "service_tier": "standard",
                        "context_window": "0-200k",
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }


OPENAI_USAGE = {
    "object": "page",
    "data": [
        {
            "object": "bucket",
            "start_time": 1754006400,  # 2025-08-01T00:00:00Z
            "end_time": 1754010000,
            "results": [
                {
                    "object": "organization.usage.completions.result",
                    "input_tokens": 1000,
                    "input_cached_tokens": 400,
                    "input_cache_write_tokens": 100,
                    "input_uncached_tokens": 500,
                    "output_tokens": 500,
                    "num_model_requests": 5,
                    "project_id": "proj_abc",
                    "user_id": None,
                    "api_key_id": "key_abc",
                    "model": "gpt-4o-mini-2024-07-18",
                    "batch": False,
                    "service_tier": "default",
                }
            ],
        }
    ],
    "has_more": False,
    "next_page": None,
}
OPENAI_COSTS = {
    "object": "page",
    "data": [
        {
            "object": "bucket",
            "start_time": 1754006400,
            "end_time": 1754092800,
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


@pytest.fixture
def canned_connection(connect):
    """Return ``open(vendor, canned)``: a connection to a simulator of canned pages."""
    with ExitStack() as stack:

        def open_(vendor, canned):
            sim = stack.enter_context(running_simulator(canned=canned))
            return connect(sim, vendor)

        yield open_


def test_the_documented_anthropic_example_costs_what_a_hand_sum_says(
    canned_connection,
):
    connection = canned_connection(
        "anthropic",
        {
            "/v1/organizations/usage_report/messages": [
                anthropic_usage("claude-sonnet-4-20250514")
            ],
            "/v1/organizations/cost_report": [EMPTY_ANTHROPIC_PAGE],
        },
    )

    sync_connection(connection, start=DAY, end=NEXT_DAY)

    bucket = UsageBucket.objects.get(connection=connection)
    # Sonnet 4 per million: input $3, 5-minute write $3.75, 1-hour write $6,
    # cache read $0.30, output $15.
    hand = (
        1500 * Decimal("3")
        + 500 * Decimal("3.75")
        + 1000 * Decimal("6")
        + 200 * Decimal("0.30")
        + 500 * Decimal("15")
    ) / 1_000_000
    assert hand == Decimal("0.019935")
    assert bucket.cost_usd == hand
    assert bucket.model == "claude-sonnet-4-0"
    assert bucket.vendor_model == "claude-sonnet-4-20250514"
    assert bucket.requests is None
    daily = DailySpend.objects.get(connection=connection)
    assert daily.cost_usd == hand
    assert daily.cache_write == 1500
    assert daily.unpriced_tokens == 0


def test_the_documented_openai_example_costs_what_a_hand_sum_says(canned_connection):
    connection = canned_connection(
        "openai",
        {
            "/v1/organization/usage/completions": [OPENAI_USAGE],
            "/v1/organization/usage/embeddings": [EMPTY_OPENAI_PAGE],
            "/v1/organization/costs": [OPENAI_COSTS],
        },
    )

    sync_connection(connection, start=DAY, end=NEXT_DAY)

    bucket = UsageBucket.objects.get(connection=connection)
    # gpt-4o-mini per million: input $0.15, cached input $0.075, output $0.60;
    # cache writes are billed as input.
    hand = (
        500 * Decimal("0.15")
        + 400 * Decimal("0.075")
        + 100 * Decimal("0.15")
        + 500 * Decimal("0.60")
    ) / 1_000_000
    assert bucket.cost_usd == hand == Decimal("0.00042")
    assert (bucket.uncached_input, bucket.cache_read, bucket.cache_write_5m) == (
        500,
        400,
        100,
    )
    assert bucket.requests == 5
    reported = ReportedCost.objects.get(connection=connection)
    assert (reported.amount, reported.currency) == (Decimal("0.06"), "USD")


def test_an_unpriced_model_is_kept_unpriced_until_a_price_exists(
    canned_connection, admin, django_capture_on_commit_callbacks
):
    connection = canned_connection(
        "anthropic",
        {
            "/v1/organizations/usage_report/messages": [
                anthropic_usage("claude-experimental-9")
            ],
            "/v1/organizations/cost_report": [EMPTY_ANTHROPIC_PAGE],
        },
    )
    sync_connection(connection, start=DAY, end=NEXT_DAY)
    unpriced = DailySpend.objects.get(connection=connection)

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            create_override(
                Actor(admin),
                vendor="anthropic",
                model="claude-experimental-9",
                input_per_mtok=Decimal("2"),
                output_per_mtok=Decimal("10"),
            )
    finally:
        app.conf.task_always_eager = False

    assert UsageBucket.objects.get(connection=connection).cost_usd is not None
    priced = DailySpend.objects.get(connection=connection)
    assert unpriced.cost_usd == 0
    assert unpriced.unpriced_tokens == 1500 + 1500 + 200 + 500
    # The override has no cache prices: cache tokens are billed as input; the
    # 1-hour writes at twice the input price.
    hand = (
        1500 * Decimal("2")
        + 500 * Decimal("2")
        + 1000 * Decimal("4")
        + 200 * Decimal("2")
        + 500 * Decimal("10")
    ) / 1_000_000
    assert priced.cost_usd == hand
    assert priced.unpriced_tokens == 0
