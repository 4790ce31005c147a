"""Prices per million tokens: local overrides first, then the genai-prices catalog."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache

from django.db.models import F, Q
from django.utils import timezone
from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot

from apps.catalog.models import PriceOverride
from apps.catalog.names import normalize_model_name

MTOK = Decimal(1_000_000)

# Keyhold's vendor ids and the genai-prices providers that price them. Qwen has no
# provider there (only resellers price it): its models are priced by overrides alone.
PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "deepseek": "deepseek",
    "moonshot": "moonshotai",
    "zhipu": "zhipuai",
}


@dataclass(frozen=True)
class ModelPrices:
    """One row of the catalog: a model's prices per million tokens, in USD."""

    vendor: str
    model: str
    input_per_mtok: Decimal | None
    cached_input_per_mtok: Decimal | None
    cache_write_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    context_window: int | None
    effective_from: date | None = None
    source: str = "catalog"
    id: int | None = None

    @classmethod
    def from_override(cls, override: PriceOverride) -> "ModelPrices":
        return cls(
            vendor=override.vendor,
            model=override.model,
            input_per_mtok=override.input_per_mtok,
            cached_input_per_mtok=override.cached_input_per_mtok,
            cache_write_per_mtok=override.cache_write_per_mtok,
            output_per_mtok=override.output_per_mtok,
            context_window=override.context_window,
            effective_from=override.effective_from,
            source="override",
            id=override.pk,
        )


def catalog_prices() -> list[ModelPrices]:
    """Every priced model of Keyhold's vendors in genai-prices, by normalized name."""
    return list(_catalog_at(timezone.now().date()))


@cache
def _catalog_at(day: date) -> tuple[ModelPrices, ...]:
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    providers = {provider.id: provider for provider in get_snapshot().providers}
    rows = {}
    for vendor, provider_id in PROVIDERS.items():
        for info in providers[provider_id].models:
            row = _catalog_row(vendor, info, at)
            if row is None:
                continue
            # Snapshots share a normalized name; the undated entry is the one to show.
            key = (vendor, row.model)
            if key not in rows or info.id.lower() == row.model:
                rows[key] = row
    return tuple(sorted(rows.values(), key=lambda row: (row.vendor, row.model)))


def _catalog_row(vendor, info, at) -> ModelPrices | None:
    prices = info.get_prices(at)
    if prices.input_mtok is None or prices.output_mtok is None:
        return None  # audio, images or embeddings: nothing billed per token both ways
    return ModelPrices(
        vendor=vendor,
        model=normalize_model_name(info.id),
        input_per_mtok=_base(prices.input_mtok),
        cached_input_per_mtok=_base(prices.cache_read_mtok),
        cache_write_per_mtok=_base(prices.cache_write_mtok),
        output_per_mtok=_base(prices.output_mtok),
        context_window=info.context_window,
    )


def _base(price):
    # Tiered prices ("above 200k tokens") show their base rate; pricing uses the tiers.
    return getattr(price, "base", price)


def override_at(vendor: str, model: str, at: datetime) -> PriceOverride | None:
    """The override in effect at ``at``: the latest dated one, else an undated one."""
    return (
        PriceOverride.objects.filter(vendor=vendor, model=normalize_model_name(model))
        .filter(Q(effective_from=None) | Q(effective_from__lte=at.date()))
        .order_by(F("effective_from").desc(nulls_last=True), "-pk")
        .first()
    )


def price_usage(
    vendor: str,
    model: str,
    at: datetime,
    *,
    uncached_input: int = 0,
    cache_read: int = 0,
    cache_write: int = 0,
    output: int = 0,
) -> Decimal | None:
    """Return the cost in USD of some usage, or None when nothing prices the model.

    Unpriced usage stays None, never $0: a missing price must not look free.
    """
    override = override_at(vendor, model, at)
    if override is not None:
        return _override_cost(override, uncached_input, cache_read, cache_write, output)
    provider_id = PROVIDERS.get(vendor)
    if provider_id is None:
        return None
    usage = Usage(
        # genai-prices counts cache reads and writes inside input_tokens.
        input_tokens=uncached_input + cache_read + cache_write,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=output,
    )
    try:
        result = calc_price(
            usage,
            normalize_model_name(model),
            provider_id=provider_id,
            genai_request_timestamp=at,
        )
    except LookupError:
        return None
    if result.model_price.input_mtok is None:
        return None
    return result.total_price


def _override_cost(override, uncached_input, cache_read, cache_write, output):
    # Without a cache price of its own, the vendor bills cached tokens as input.
    input_price = override.input_per_mtok
    cached_price = override.cached_input_per_mtok
    write_price = override.cache_write_per_mtok
    total = (
        uncached_input * input_price
        + cache_read * (input_price if cached_price is None else cached_price)
        + cache_write * (input_price if write_price is None else write_price)
        + output * override.output_per_mtok
    )
    return total / MTOK
