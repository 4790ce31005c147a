from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.catalog import services
from apps.catalog.models import ModelTier, PriceOverride
from apps.catalog.pricing import price_usage

pytestmark = pytest.mark.django_db

AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _override(**fields):
    return PriceOverride.objects.create(
        **{
            "vendor": "qwen",
            "model": "qwen-max",
            "input_per_mtok": Decimal("2"),
            "output_per_mtok": Decimal("6"),
            **fields,
        }
    )


def test_gpt_4o_mini_prices_cache_reads_at_the_cache_rate():
    # input 0.15, cache read 0.075, output 0.6 per MTok (genai-prices)
    cost = price_usage(
        "openai",
        "gpt-4o-mini-2024-07-18",
        AT,
        uncached_input=1_000_000,
        cache_read=500_000,
        output=1_000_000,
    )
    assert cost == Decimal("0.15") + Decimal("0.0375") + Decimal("0.6")
    assert isinstance(cost, Decimal)


def test_claude_haiku_prices_every_token_class():
    # input 1, cache read 0.10, cache write 1.25, output 5 per MTok (genai-prices)
    cost = price_usage(
        "anthropic",
        "anthropic/claude-haiku-4-5",
        AT,
        uncached_input=1_000_000,
        cache_read=500_000,
        cache_write=200_000,
        output=100_000,
    )
    assert cost == Decimal("1") + Decimal("0.05") + Decimal("0.25") + Decimal("0.5")


def test_unknown_model_stays_unpriced_not_free(db):
    assert price_usage("openai", "no-such-model", AT, output=1000) is None
    assert price_usage("qwen", "qwen-max", AT, output=1000) is None


def test_override_prices_a_model_the_catalog_lacks():
    _override(cached_input_per_mtok=Decimal("0.5"))
    cost = price_usage(
        "qwen", "qwen-max", AT, uncached_input=1_000_000, cache_read=1_000_000
    )
    assert cost == Decimal("2.5")


def test_override_wins_from_its_effective_date_on():
    _override(model="gpt-4o-mini", vendor="openai", effective_from=date(2026, 6, 1))
    before = datetime(2026, 5, 31, 23, tzinfo=UTC)
    assert price_usage("openai", "gpt-4o-mini", before, output=1_000_000) == Decimal(
        "0.6"
    )
    assert price_usage("openai", "gpt-4o-mini", AT, output=1_000_000) == Decimal("6")


def test_latest_dated_override_beats_an_undated_one():
    _override(output_per_mtok=Decimal("6"))
    _override(output_per_mtok=Decimal("8"), effective_from=date(2026, 1, 1))
    _override(output_per_mtok=Decimal("9"), effective_from=date(2027, 1, 1))
    assert price_usage("qwen", "qwen-max", AT, output=1_000_000) == Decimal("8")
    old = datetime(2025, 1, 1, tzinfo=UTC)
    assert price_usage("qwen", "qwen-max", old, output=1_000_000) == Decimal("6")


@pytest.mark.parametrize(
    ("model", "output", "tier"),
    [
        ("gpt-oss-120b", Decimal("0.18"), "economy"),
        ("gpt-5.4-nano", Decimal("1.25"), "economy"),
        ("gpt-4o-mini", Decimal("0.6"), "economy"),
        ("gpt-5.4-mini", Decimal("4.5"), "standard"),
        ("claude-haiku-4-5", Decimal("5"), "standard"),
        ("gpt-5.4", Decimal("15"), "premium"),
        ("claude-sonnet-4-5", Decimal("15"), "premium"),
        ("qwen-max", None, "premium"),
    ],
)
def test_tier_rule_follows_family_and_price(model, output, tier):
    assert services.tier_by_rule(model, output) == tier


def test_an_embedding_model_is_listed_and_tiered_by_its_input_price():
    rows = services.catalog_rows(vendor="openai", model="text-embedding-3-small")

    assert rows and rows[0].output_per_mtok is None
    assert services.tier_of("openai", "text-embedding-3-small") == "economy"


def test_admin_reclassification_wins_over_the_rule_and_is_audited(admin):
    assert services.tier_of("openai", "gpt-5.4") == "premium"
    services.set_tier(Actor(admin), "openai", "gpt-5.4-2026-03-05", "standard")
    assert services.tier_of("openai", "gpt-5.4") == "standard"
    assert ModelTier.objects.get().model == "gpt-5.4"
    event = AuditEvent.objects.get(action="model.reclassified")
    assert event.details == {"tier": ["premium", "standard"]}


def test_engineer_cannot_reclassify_a_model(engineer):
    with pytest.raises(PermissionDenied):
        services.set_tier(Actor(engineer), "openai", "gpt-5.4", "economy")
    assert not ModelTier.objects.exists()


def test_override_lifecycle_is_audited(admin):
    actor = Actor(admin)
    override = services.create_override(
        actor,
        vendor="qwen",
        model="Qwen-Max",
        input_per_mtok=Decimal("2"),
        output_per_mtok=Decimal("6"),
    )
    assert override.model == "qwen-max"
    services.update_override(actor, override, output_per_mtok=Decimal("7"))
    services.delete_override(actor, override)
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [
        "model.override_created",
        "model.override_updated",
        "model.override_deleted",
    ]
