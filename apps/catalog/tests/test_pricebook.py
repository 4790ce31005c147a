from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from apps.catalog import pricing
from apps.catalog.models import PriceOverride
from apps.catalog.pricing import PriceBook, price_usage
from apps.connectors.rows import HOUR, UsageRow

pytestmark = pytest.mark.django_db

AT = datetime(2026, 6, 1, 12, tzinfo=UTC)
M = 1_000_000


def _row(model, start=AT, **fields):
    tokens = {
        "uncached_input": 0,
        "cache_read": 0,
        "cache_write_5m": 0,
        "cache_write_1h": 0,
        "output": 0,
    }
    return UsageRow(
        start=start,
        width=HOUR,
        vendor_key_id="key_1",
        vendor_project_id="",
        model=model,
        service_tier=fields.pop("service_tier", "default"),
        batch=fields.pop("batch", False),
        context_band=fields.pop("context_band", ""),
        requests=None,
        **{**tokens, **fields},
    )


def test_reference_figures_of_gpt_4o_mini_and_claude_haiku():
    # 500k uncached + 500k cache reads + 1M output:
    # gpt-4o-mini 0.5*0.15 + 0.5*0.075 + 0.6; haiku 0.5*1 + 0.5*0.10 + 5
    usage = {"uncached_input": M // 2, "cache_read": M // 2, "output": M}
    openai = PriceBook("openai").cost(_row("gpt-4o-mini-2024-07-18", **usage))
    anthropic = PriceBook("anthropic").cost(_row("claude-haiku-4-5", **usage))
    assert openai == Decimal("0.7125")
    assert anthropic == Decimal("5.55")
    assert isinstance(openai, Decimal)


def test_anthropic_example_prices_both_cache_writes():
    # Sonnet 4: input 3, 5-minute write 3.75, 1-hour write 6 (2x input),
    # cache read 0.30, output 15 per MTok.
    # 1500*3 + 500*3.75 + 1000*6 + 200*0.3 + 500*15 = 19935 per MTok
    row = _row(
        "claude-sonnet-4-20250514",
        start=datetime(2025, 8, 1, tzinfo=UTC),
        uncached_input=1500,
        cache_write_5m=500,
        cache_write_1h=1000,
        cache_read=200,
        output=500,
    )
    assert PriceBook("anthropic").cost(row) == Decimal("0.019935")


def test_one_token_keeps_its_exact_fraction_of_a_cent():
    cost = PriceBook("openai").cost(_row("gpt-4o-mini", uncached_input=1))
    assert cost == Decimal("0.00000015")


def test_time_of_day_prices_follow_the_buckets_own_hour():
    # deepseek-chat: 0.27 in / 1.10 out from 00:30 to 16:30 UTC, else 0.135 / 0.55.
    book = PriceBook("deepseek")
    peak = _row("deepseek-chat", start=datetime(2026, 6, 1, 3, tzinfo=UTC))
    off_peak = replace(peak, start=datetime(2026, 6, 1, 20, tzinfo=UTC))
    late_minute = replace(peak, start=datetime(2026, 6, 1, 3, 45, tzinfo=UTC))
    for row in (peak, off_peak, late_minute):
        row.uncached_input, row.output = M, M
    assert book.cost(peak) == Decimal("1.37")
    assert book.cost(off_peak) == Decimal("0.685")
    assert book.cost(late_minute) == Decimal("1.37")


def test_price_change_applies_from_its_date_on():
    # claude-opus-4-6 above 200k: output 37.50 until 2026-03-12, flat 25 after.
    book = PriceBook("anthropic")
    before = _row(
        "claude-opus-4-6",
        start=datetime(2026, 3, 12, 23, tzinfo=UTC),
        context_band="200k-1M",
        output=M,
    )
    after = replace(before, start=datetime(2026, 3, 13, tzinfo=UTC))
    assert book.cost(before) == Decimal("37.5")
    assert book.cost(after) == Decimal("25")


def test_requests_above_200k_pay_the_tier_rate_for_every_token_class():
    # claude-sonnet-4-5 per MTok, base / above 200k: input 3 / 6, cache read
    # 0.30 / 0.60, 5-minute write 3.75 / 7.50, 1-hour write 6 / 12, output 15 / 22.50
    usage = {
        "uncached_input": M,
        "cache_read": M,
        "cache_write_5m": M,
        "cache_write_1h": M,
        "output": M,
    }
    book = PriceBook("anthropic")
    small = _row("claude-sonnet-4-5", context_band="0-200k", **usage)
    large = replace(small, context_band="200k-1M")
    assert book.cost(small) == Decimal("28.05")
    assert book.cost(large) == Decimal("48.6")


def test_a_bucket_without_a_band_pays_base_rates_however_large():
    # gemini-2.5-pro: 1.25 in / 10 out below 200k-token requests; a bucket of
    # many small requests adds up past 200k without crossing the tier.
    row = _row("gemini-2.5-pro", uncached_input=3 * M, output=M)
    assert PriceBook("google").cost(row) == Decimal("13.75")


def test_batch_usage_costs_half():
    openai = _row("gpt-4o-mini", uncached_input=M // 2, cache_read=M // 2, output=M)
    anthropic = _row("claude-haiku-4-5", uncached_input=M // 2, output=M)
    assert PriceBook("openai").cost(replace(openai, batch=True)) == Decimal("0.35625")
    assert PriceBook("anthropic").cost(
        replace(anthropic, service_tier="batch")
    ) == Decimal("2.75")


def test_priority_and_flex_usage_is_priced_at_standard_rates():
    book = PriceBook("openai")
    row = _row("gpt-4o-mini", uncached_input=M, output=M)
    assert book.cost(replace(row, service_tier="priority")) == Decimal("0.75")
    assert book.cost(replace(row, service_tier="flex")) == Decimal("0.75")


def test_unknown_models_and_vendors_without_a_catalog_stay_unpriced():
    assert PriceBook("openai").cost(_row("no-such-model", output=1000)) is None
    assert PriceBook("qwen").cost(_row("qwen-max", output=1000)) is None
    assert PriceBook("openai_compatible").cost(_row("llama-3", output=1000)) is None


def test_override_prices_every_token_class_falling_back_to_input():
    # Input 2, no cache prices, output 6: reads and 5-minute writes at 2,
    # 1-hour writes at twice the input.
    PriceOverride.objects.create(
        vendor="qwen",
        model="qwen-max",
        input_per_mtok=Decimal("2"),
        output_per_mtok=Decimal("6"),
    )
    row = _row(
        "Qwen-Max",
        uncached_input=M,
        cache_read=M,
        cache_write_5m=M,
        cache_write_1h=M,
        output=M,
    )
    assert PriceBook("qwen").cost(row) == Decimal("16")


def test_override_wins_over_the_catalog_from_its_effective_date_on():
    PriceOverride.objects.create(
        vendor="openai",
        model="gpt-4o-mini",
        effective_from=date(2026, 6, 1),
        input_per_mtok=Decimal("1"),
        cached_input_per_mtok=Decimal("0.25"),
        output_per_mtok=Decimal("6"),
    )
    book = PriceBook("openai")
    before = _row(
        "gpt-4o-mini",
        start=datetime(2026, 5, 31, 23, tzinfo=UTC),
        cache_read=M,
        output=M,
    )
    after = replace(before, start=datetime(2026, 6, 1, tzinfo=UTC))
    assert book.cost(before) == Decimal("0.675")
    assert book.cost(after) == Decimal("6.25")


def test_latest_dated_override_beats_older_and_undated_ones():
    for output, effective_from in (
        ("6", None),
        ("8", date(2026, 1, 1)),
        ("9", date(2027, 1, 1)),
    ):
        PriceOverride.objects.create(
            vendor="qwen",
            model="qwen-max",
            effective_from=effective_from,
            input_per_mtok=Decimal("2"),
            output_per_mtok=Decimal(output),
        )
    book = PriceBook("qwen")
    row = _row("qwen-max", output=M)
    assert book.cost(row) == Decimal("8")
    assert book.cost(replace(row, start=datetime(2025, 1, 1, tzinfo=UTC))) == 6
    assert book.cost(replace(row, start=datetime(2027, 1, 1, tzinfo=UTC))) == 9


def test_a_book_reads_overrides_once_and_keeps_its_answers(
    django_assert_num_queries,
):
    with django_assert_num_queries(1):
        book = PriceBook("qwen")
        rows = [
            _row("qwen-max", start=AT + timedelta(hours=hour), output=M)
            for hour in range(48)
        ]
        assert [book.cost(row) for row in rows] == [None] * 48
    PriceOverride.objects.create(
        vendor="qwen",
        model="qwen-max",
        input_per_mtok=Decimal("2"),
        output_per_mtok=Decimal("6"),
    )
    assert book.cost(rows[0]) is None
    assert PriceBook("qwen").cost(rows[0]) == Decimal("6")


def test_a_full_price_cache_starts_over_and_still_prices_right(monkeypatch):
    monkeypatch.setattr(pricing, "MAX_CACHED_PRICES", 5)
    book = PriceBook("deepseek")
    day = datetime(2026, 6, 1, tzinfo=UTC)
    costs = [
        book.cost(_row("deepseek-chat", start=day + timedelta(hours=h), output=M))
        for h in range(24)
    ]
    # Off-peak 0.55 until 00:30 and from 16:30; peak 1.10 in between.
    assert costs == [Decimal("0.55")] + [Decimal("1.1")] * 16 + [Decimal("0.55")] * 7


@pytest.mark.parametrize(
    ("vendor", "provider", "model"),
    [
        ("openai", "openai", "gpt-4o-mini"),
        ("openai", "openai", "gpt-4.1"),
        ("anthropic", "anthropic", "claude-haiku-4-5"),
        ("anthropic", "anthropic", "claude-sonnet-4-0"),
        ("google", "google", "gemini-2.5-flash"),
        ("deepseek", "deepseek", "deepseek-chat"),
        ("moonshot", "moonshotai", "kimi-k2"),
    ],
)
def test_unit_prices_agree_with_genai_prices(vendor, provider, model):
    # genai-prices counts cache reads and writes inside input_tokens.
    row = _row(
        model, uncached_input=1_200_000, cache_read=300_000, cache_write_5m=100_000
    )
    row.output = 700_000
    usage = Usage(
        input_tokens=1_600_000,
        cache_read_tokens=300_000,
        cache_write_tokens=100_000,
        output_tokens=700_000,
    )
    expected = calc_price(
        usage, model, provider_id=provider, genai_request_timestamp=AT
    ).total_price
    assert PriceBook(vendor).cost(row) == expected


def test_price_usage_agrees_with_the_price_book():
    row = _row(
        "claude-haiku-4-5",
        uncached_input=M,
        cache_read=500_000,
        cache_write_5m=200_000,
        output=100_000,
    )
    cost = price_usage(
        "anthropic",
        "claude-haiku-4-5",
        AT,
        uncached_input=M,
        cache_read=500_000,
        cache_write=200_000,
        output=100_000,
    )
    assert cost == PriceBook("anthropic").cost(row) == Decimal("1.8")
