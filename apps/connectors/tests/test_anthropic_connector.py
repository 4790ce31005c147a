"""The Anthropic connector, over real HTTP against the simulator."""

import copy
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.connectors.rows import CostRow, UsageRow
from apps.connectors.simulator import running_simulator
from apps.connectors.simulator.faults import Fault
from apps.connectors.simulator.org import ANTHROPIC_PRICES, BATCH_DISCOUNT
from apps.connectors.tests.conftest import no_sleep
from apps.connectors.vendors.anthropic import COSTS, HOURS_PER_PAGE, USAGE
from apps.connectors.vendors.anthropic import AnthropicConnector as Connector
from apps.connectors.vendors.base import ConnectorError, Unsupported

# 2025-11-01T00:00:00Z: a fixed clock, so the window below lies in the past.
NOW = 1761955200
END = datetime.fromtimestamp(NOW, UTC)
START = END - timedelta(hours=48)
HOURS = range(NOW - 48 * 3600, NOW, 3600)
KEY = "apikey_01Rj2N8SVvo6BePZj99NhmiT"
WORKSPACE = "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"

# The documented example responses of vendor-apis.md §2.1 and §2.2, verbatim.
USAGE_EXAMPLE = {
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
                    "api_key_id": KEY,
                    "workspace_id": WORKSPACE,
                    "model": "claude-sonnet-4-20250514",
                    "service_tier": "standard",
                    "context_window": "0-200k",
                }
            ],
        }
    ],
    "has_more": True,
    "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo=",
}
COSTS_EXAMPLE = {
    "data": [
        {
            "starting_at": "2025-08-01T00:00:00Z",
            "ending_at": "2025-08-02T00:00:00Z",
            "results": [
                {
                    "currency": "USD",
                    "amount": "123.78912",
                    "workspace_id": WORKSPACE,
                    "description": "Claude Sonnet 4 Usage - Input Tokens",
                    "cost_type": "tokens",
                    "context_window": "0-200k",
                    "model": "claude-sonnet-4-20250514",
                    "service_tier": "standard",
                    "token_type": "uncached_input_tokens",
                }
            ],
        }
    ],
    "has_more": True,
    "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo=",
}
LAST_PAGE = {"data": [], "has_more": False, "next_page": None}


def connector(sim, sleeps=None, **options) -> Connector:
    sleep = no_sleep([] if sleeps is None else sleeps)
    key = sim.admin_keys["anthropic"]
    return Connector(sim.url, key, sleep=sleep, rng=random.Random(1), **options)


def usage_rows(*pages: dict) -> list[UsageRow]:
    with (
        running_simulator(canned={USAGE: [*pages, LAST_PAGE]}) as sim,
        connector(sim) as anthropic,
    ):
        return [row for page in anthropic.usage_pages(START, END) for row in page]


def cost_rows(*pages: dict) -> list[CostRow]:
    with (
        running_simulator(canned={COSTS: [*pages, LAST_PAGE]}) as sim,
        connector(sim) as anthropic,
    ):
        return [row for page in anthropic.cost_pages(START, END) for row in page]


def changed(example: dict, **changes) -> dict:
    """The documented page, its one result changed as given."""
    page = copy.deepcopy(example)
    page["data"][0]["results"][0].update(changes)
    return page


def test_documented_usage_example_becomes_one_row():
    assert usage_rows(USAGE_EXAMPLE) == [
        UsageRow(
            start=datetime(2025, 8, 1, tzinfo=UTC),
            width=86400,
            vendor_key_id=KEY,
            vendor_project_id=WORKSPACE,
            model="claude-sonnet-4-20250514",
            service_tier="standard",
            batch=False,
            context_band="0-200k",
            uncached_input=1500,
            cache_read=200,
            cache_write_5m=500,
            cache_write_1h=1000,
            output=500,
            requests=None,
        )
    ]


def test_console_use_in_the_default_workspace_has_blank_ids():
    page = changed(
        USAGE_EXAMPLE, api_key_id=None, workspace_id=None, context_window=None
    )

    (row,) = usage_rows(page)

    assert (row.vendor_key_id, row.vendor_project_id, row.context_band) == ("", "", "")


def test_batch_tier_marks_the_row_as_batch():
    (row,) = usage_rows(changed(USAGE_EXAMPLE, service_tier="batch"))

    assert (row.service_tier, row.batch) == ("batch", True)


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("uncached_input_tokens", "uncached_input_tokens"),
        ("cache_read_input_tokens", "cache_read_input_tokens"),
        ("output_tokens", "output_tokens"),
        ("cache_creation", "cache_creation.ephemeral_5m_input_tokens"),
    ],
)
def test_a_missing_token_count_is_named(name, named):
    page = copy.deepcopy(USAGE_EXAMPLE)
    del page["data"][0]["results"][0][name]

    with pytest.raises(ConnectorError) as raised:
        usage_rows(page)

    assert str(raised.value) == f"unexpected response: no {named}"


def test_documented_cost_example_is_cents_turned_into_dollars():
    assert cost_rows(COSTS_EXAMPLE) == [
        CostRow(
            day=date(2025, 8, 1),
            vendor_project_id=WORKSPACE,
            vendor_key_id="",
            line_item="Claude Sonnet 4 Usage - Input Tokens",
            amount=Decimal("1.2378912"),
            currency="USD",
        )
    ]


def test_batch_and_long_context_lines_stay_apart_from_standard_ones():
    batch = changed(COSTS_EXAMPLE, service_tier="batch", context_window="200k-1M")
    both = copy.deepcopy(COSTS_EXAMPLE)
    both["data"][0]["results"] += batch["data"][0]["results"]

    rows = cost_rows(both)

    assert [row.line_item for row in rows] == [
        "Claude Sonnet 4 Usage - Input Tokens",
        "Claude Sonnet 4 Usage - Input Tokens (batch, 200k-1M)",
    ]


def test_a_line_without_description_is_named_from_its_parts():
    page = changed(COSTS_EXAMPLE, description=None, workspace_id=None)

    (row,) = cost_rows(page)

    assert row.line_item == "claude-sonnet-4-20250514 tokens uncached_input_tokens"
    assert row.vendor_project_id == ""


def test_an_amount_that_is_not_a_number_is_refused():
    with pytest.raises(ConnectorError, match="amount is not a number"):
        cost_rows(changed(COSTS_EXAMPLE, amount="twelve"))


def org_usage_totals(org) -> Counter:
    """Token totals per (key, model), straight from the org data."""
    totals = Counter()
    for hour in HOURS:
        for row in org.anthropic_usage(hour):
            key = (row.api_key_id or "", row.model)
            totals[key, "uncached"] += row.uncached
            totals[key, "cache_read"] += row.cache_read
            totals[key, "cache_write_5m"] += row.cache_write_5m
            totals[key, "cache_write_1h"] += row.cache_write_1h
            totals[key, "output"] += row.output
    return +totals


def test_usage_pages_add_up_to_the_organizations_usage():
    with running_simulator(clock=lambda: NOW) as sim:
        with connector(sim) as anthropic:
            pages = list(anthropic.usage_pages(START, END))
        expected = org_usage_totals(sim.org)

    rows = [row for page in pages for row in page]
    totals = Counter()
    for row in rows:
        key = (row.vendor_key_id, row.model)
        totals[key, "uncached"] += row.uncached_input
        totals[key, "cache_read"] += row.cache_read
        totals[key, "cache_write_5m"] += row.cache_write_5m
        totals[key, "cache_write_1h"] += row.cache_write_1h
        totals[key, "output"] += row.output
    assert len(pages) == (END - START) // timedelta(hours=HOURS_PER_PAGE)
    assert +totals == expected
    assert {row.requests for row in rows} == {None}
    assert {row.batch for row in rows} == {True, False}
    assert "" in {row.vendor_key_id for row in rows}


def org_cost(org) -> Decimal:
    """Dollars for the window; the report rounds each line to 1/100000 cent."""
    cents_per_million = Decimal(100) / Decimal(1_000_000)
    total = Decimal(0)
    for hour in HOURS:
        for row in org.anthropic_usage(hour):
            prices = ANTHROPIC_PRICES[row.model]
            factor = BATCH_DISCOUNT if row.service_tier == "batch" else 1
            tokens = (
                row.uncached,
                row.cache_write_5m,
                row.cache_write_1h,
                row.cache_read,
                row.output,
            )
            for count, price in zip(tokens, prices, strict=True):
                cents = count * price * factor * cents_per_million
                total += cents.quantize(Decimal("0.00001"))
    return total / 100


def test_cost_pages_add_up_to_the_organizations_cost():
    with running_simulator(clock=lambda: NOW, page_cap=1) as sim:
        with connector(sim) as anthropic:
            pages = list(anthropic.cost_pages(START, END))
        expected = org_cost(sim.org)

    rows = [row for page in pages for row in page]
    assert len(pages) == 2
    assert {row.day for row in rows} == {date(2025, 10, 30), date(2025, 10, 31)}
    assert sum(row.amount for row in rows) == expected
    lines = Counter((row.day, row.vendor_project_id, row.line_item) for row in rows)
    assert max(lines.values()) == 1
    assert any(row.line_item.endswith("(batch)") for row in rows)


def test_429_waits_as_long_as_retry_after_says():
    sleeps = []
    faults = [{"mode": "429", "count": 1, "retry_after": 4}]
    with (
        running_simulator(clock=lambda: NOW, faults=faults) as sim,
        connector(sim, sleeps) as anthropic,
    ):
        pages = list(anthropic.cost_pages(START, END))

    assert sleeps == [4.0]
    assert pages[0]


def fault_reason(mode: str, sleeps=None) -> str:
    with (
        running_simulator(clock=lambda: NOW, faults=[{"mode": mode}]) as sim,
        connector(sim, sleeps) as anthropic,
        pytest.raises(ConnectorError) as raised,
    ):
        list(anthropic.usage_pages(START, END))
    return str(raised.value)


def test_an_overload_is_retried_then_reported():
    sleeps = []

    assert fault_reason("529", sleeps) == "vendor unavailable (529) after 3 attempts"
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("malformed", "unexpected response: not JSON"),
        ("truncated", "unexpected response: cut short 3 times"),
        ("missing_fields", "unexpected response: no starting_at"),
    ],
)
def test_a_broken_body_is_one_readable_line(mode, reason):
    assert fault_reason(mode) == reason


def test_fields_added_by_a_newer_api_are_ignored():
    def all_rows(faults):
        with (
            running_simulator(clock=lambda: NOW, faults=faults) as sim,
            connector(sim) as anthropic,
        ):
            usage = [r for p in anthropic.usage_pages(START, END) for r in p]
            costs = [r for p in anthropic.cost_pages(START, END) for r in p]
            keys = list(anthropic.list_keys())
        return usage, costs, keys

    assert all_rows([{"mode": "extra_fields"}]) == all_rows([])


def test_list_keys_walks_every_page_with_each_keys_status():
    with running_simulator(page_cap=3) as sim, connector(sim) as anthropic:
        keys = list(anthropic.list_keys())
        synthetic = {key.id: key for key in sim.org.anthropic_keys}

    assert [key.vendor_key_id for key in keys] == list(synthetic)
    assert Counter(key.status for key in keys) == {
        "active": 8,
        "inactive": 1,
        "archived": 1,
    }
    for key in keys:
        assert key.vendor_project_id == (
            synthetic[key.vendor_key_id].workspace_id or ""
        )
        assert key.redacted.startswith("sk-ant-api03-")
        assert key.created_at.tzinfo is UTC
        assert key.last_used_at is None


def test_revoked_key_shows_inactive_in_a_later_list():
    with running_simulator() as sim, connector(sim) as anthropic:
        key = next(iter(anthropic.list_keys()))
        anthropic.revoke_key(key.vendor_key_id)
        statuses = {k.vendor_key_id: k.status for k in anthropic.list_keys()}

    assert key.status == "active"
    assert statuses[key.vendor_key_id] == "inactive"


def test_revoking_is_retried_through_an_outage():
    sleeps = []
    with running_simulator() as sim, connector(sim, sleeps) as anthropic:
        key = next(iter(anthropic.list_keys()))
        sim.faults.add(Fault("503", count=1))
        anthropic.revoke_key(key.vendor_key_id)
        statuses = {k.vendor_key_id: k.status for k in anthropic.list_keys()}

    assert len(sleeps) == 1
    assert statuses[key.vendor_key_id] == "inactive"


def test_creating_a_key_says_to_use_the_claude_console():
    with (
        running_simulator() as sim,
        connector(sim) as anthropic,
        pytest.raises(Unsupported) as raised,
    ):
        anthropic.create_key(WORKSPACE, "new")

    assert not Connector.creates_keys
    assert str(raised.value) == (
        "Anthropic's Admin API cannot create keys: create the key in the Claude "
        "Console, then register it in Keyhold"
    )
