"""Prices per million tokens: local overrides first, then the genai-prices catalog."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache

from django.db.models import F
from django.utils import timezone
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ModelInfo, TieredPrices

from apps.catalog.models import PriceOverride
from apps.catalog.names import normalize_model_name

MTOK = Decimal(1_000_000)

# OpenAI and Anthropic both halve the price of batch requests.
BATCH_RATE = Decimal("0.5")
# Anthropic bills a 1-hour cache write at twice the input price; only its reports
# count such writes apart, so a price without its own 1-hour figure uses that rule.
ONE_HOUR_WRITE_RATE = Decimal(2)
# Resolved prices kept per book: models x hours x context bands of a long backfill.
MAX_CACHED_PRICES = 50_000
# Input tokens a request of each context band had at least. A tier's price applies
# by the size of each request, and a bucket sums requests of unknown sizes: base
# rates apply unless the band says every request was above the tier.
CONTEXT_BAND_MIN_INPUT = {"200k-1M": 200_001}
_UNRESOLVED = object()

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
    if prices.input_mtok is None:
        return None  # audio or images: not billed per input token
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


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """What each token class costs, in USD per million tokens."""

    uncached_input: Decimal
    cache_read: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    output: Decimal

    def cost(self, uncached_input, cache_read, cache_write_5m, cache_write_1h, output):
        total = (
            uncached_input * self.uncached_input
            + cache_read * self.cache_read
            + cache_write_5m * self.cache_write_5m
            + cache_write_1h * self.cache_write_1h
            + output * self.output
        )
        return total / MTOK


class PriceBook:
    """Unit prices per vendor, model and hour, resolved once and reused."""

    def __init__(self, vendor: str):
        self.vendor = vendor
        self._provider_id = PROVIDERS.get(vendor)
        self._overrides: dict[str, list[PriceOverride]] = {}
        dated_last = PriceOverride.objects.filter(vendor=vendor).order_by(
            F("effective_from").asc(nulls_first=True), "pk"
        )
        for override in dated_last:
            self._overrides.setdefault(override.model, []).append(override)
        self._prices: dict[tuple, UnitPrices | None] = {}

    def cost(self, row) -> Decimal | None:
        """Return the exact cost in USD of a usage row, None when nothing prices it.

        Unpriced usage stays None, never $0: a missing price must not look free.
        """
        prices = self.unit_prices(row.model, row.start, row.context_band)
        if prices is None:
            return None
        cost = prices.cost(
            row.uncached_input,
            row.cache_read,
            row.cache_write_5m,
            row.cache_write_1h,
            row.output,
        )
        # Flex and priority usage gets standard rates, an approximation: the
        # catalog prices those tiers for a few OpenAI and Google models only.
        if row.batch or row.service_tier == "batch":
            cost *= BATCH_RATE
        return cost

    def unit_prices(
        self, model: str, at: datetime, context_band: str = ""
    ) -> UnitPrices | None:
        # Hourly buckets start on the hour: look them up as they come, and only
        # truncate on a miss. Prices are resolved once an hour, at its start;
        # DeepSeek's off-peak hours switch on the half hour, which an hourly
        # bucket cannot split.
        prices = self._prices.get((model, at, context_band), _UNRESOLVED)
        if prices is not _UNRESOLVED:
            return prices
        hour = at.replace(minute=0, second=0, microsecond=0)
        key = (model, hour, context_band)
        prices = self._prices.get(key, _UNRESOLVED)
        if prices is _UNRESOLVED:
            if len(self._prices) >= MAX_CACHED_PRICES:
                self._prices.clear()
            prices = self._prices[key] = self._resolve(model, hour, context_band)
        return prices

    def _resolve(self, model, hour, context_band) -> UnitPrices | None:
        name = _normalized(model)
        override = self._override_at(name, hour.date())
        if override is not None:
            return _override_prices(override)
        info = _catalog_model(self._provider_id, name) if self._provider_id else None
        if info is None:
            return None
        min_input = CONTEXT_BAND_MIN_INPUT.get(context_band, 0)
        return _catalog_unit_prices(info, hour, min_input)

    def _override_at(self, name, day) -> PriceOverride | None:
        # Undated overrides sort first, so the latest dated one in effect wins.
        found = None
        for override in self._overrides.get(name, ()):
            if override.effective_from is None or override.effective_from <= day:
                found = override
        return found


@lru_cache(maxsize=4096)
def _normalized(model: str) -> str:
    return normalize_model_name(model)


@lru_cache(maxsize=4096)
def _catalog_model(provider_id: str, name: str) -> ModelInfo | None:
    try:
        _, info = get_snapshot().find_provider_model(name, None, provider_id, None)
    except LookupError:
        return None
    return info


def _override_prices(override: PriceOverride) -> UnitPrices:
    # Without a cache price of its own, the vendor bills cached tokens as input.
    input_price = override.input_per_mtok
    write_price = override.cache_write_per_mtok
    cached_price = override.cached_input_per_mtok
    return UnitPrices(
        uncached_input=input_price,
        cache_read=input_price if cached_price is None else cached_price,
        cache_write_5m=input_price if write_price is None else write_price,
        cache_write_1h=input_price * ONE_HOUR_WRITE_RATE,
        output=override.output_per_mtok,
    )


def _catalog_unit_prices(info: ModelInfo, at: datetime, min_input: int):
    prices = info.get_prices(at)
    if prices.input_mtok is None:
        return None  # audio and image models: their text tokens have no price
    input_price = _rate(prices.input_mtok, min_input, None)

    return UnitPrices(
        uncached_input=input_price,
        cache_read=_rate(prices.cache_read_mtok, min_input, input_price),
        cache_write_5m=_rate(prices.cache_write_mtok, min_input, input_price),
        cache_write_1h=_rate(
            prices.cache_write_1h_mtok, min_input, input_price * ONE_HOUR_WRITE_RATE
        ),
        # Embedding models bill input alone.
        output=_rate(prices.output_mtok, min_input, Decimal(0)),
    )


def _rate(price, min_input, fallback):
    if price is None:
        return fallback
    if not isinstance(price, TieredPrices):
        return price
    # A tier's rate applies to every token of a request above its threshold.
    crossed = [tier.price for tier in price.tiers if min_input > tier.start]
    return crossed[-1] if crossed else price.base


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

    Usage is priced as a bucket of many requests is: at base rates, with cache
    writes at the 5-minute price.
    """
    prices = PriceBook(vendor).unit_prices(model, at)
    if prices is None:
        return None
    return prices.cost(uncached_input, cache_read, cache_write, 0, output)
