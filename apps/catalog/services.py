"""The model catalog: rows with their tier, admin reclassifications and overrides."""

import dataclasses
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.services import require_admin
from apps.audit.services import Actor, record, save_changes, snapshot
from apps.catalog.models import ModelTier, PriceOverride
from apps.catalog.names import normalize_model_name
from apps.catalog.pricing import ModelPrices, catalog_prices
from apps.projects.models import Tier
from apps.usage.tasks import reprice_model
from apps.vault.models import Vendor

# What an override states; forms edit these and the audit log records them.
OVERRIDE_FIELDS = (
    "vendor",
    "model",
    "effective_from",
    "input_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "output_per_mtok",
    "context_window",
)

# Open-weight and the vendors' smallest models are economy whatever they cost.
ECONOMY_NAMES = re.compile(r"(?:^|-)(?:oss|nano|lite|gemma|flash-lite)(?:-|$)")
ECONOMY_BELOW = Decimal("1")  # output USD per MTok
PREMIUM_FROM = Decimal("10")


@dataclasses.dataclass(frozen=True)
class CatalogRow(ModelPrices):
    tier: str = Tier.PREMIUM


def tier_by_rule(model: str, output_per_mtok: Decimal | None) -> str:
    """Classify a model by its family name and its output price per MTok.

    1. Open-weight and "nano"/"lite" models are economy.
    2. Otherwise under $1 output is economy, under $10 standard (GPT-5.4 Mini,
       Claude Haiku 4.5), $10 and up premium (the flagships).
    3. A model without a price is premium: policies then treat it as the costliest.
    """
    if ECONOMY_NAMES.search(model):
        return Tier.ECONOMY
    if output_per_mtok is None:
        return Tier.PREMIUM
    if output_per_mtok < ECONOMY_BELOW:
        return Tier.ECONOMY
    return Tier.STANDARD if output_per_mtok < PREMIUM_FROM else Tier.PREMIUM


def catalog_rows(vendor: str = "", model: str = "", search: str = "") -> list:
    """Catalog rows and overrides, each with its tier, filtered and sorted."""
    overrides = PriceOverride.objects.all()
    if vendor:
        overrides = overrides.filter(vendor=vendor)
    prices = [
        *(row for row in catalog_prices() if not vendor or row.vendor == vendor),
        *(ModelPrices.from_override(override) for override in overrides),
    ]
    if model:
        prices = [row for row in prices if row.model == normalize_model_name(model)]
    if search:
        prices = [row for row in prices if search.lower() in row.model]
    tiers = {(t.vendor, t.model): t.tier for t in ModelTier.objects.all()}
    rows = [
        CatalogRow(
            **dataclasses.asdict(row),
            tier=tiers.get((row.vendor, row.model))
            or tier_by_rule(row.model, _tier_price(row)),
        )
        for row in prices
    ]
    return sorted(rows, key=lambda row: (row.vendor, row.model, row.source))


def _tier_price(row) -> Decimal | None:
    # Embedding models bill input only: their input price stands in for output.
    if row.output_per_mtok is None:
        return row.input_per_mtok
    return row.output_per_mtok


def tier_of(vendor: str, model: str) -> str:
    """The tier a model is in: an admin's reclassification, else the rule."""
    model = normalize_model_name(model)
    rows = catalog_rows(vendor=vendor, model=model)
    return rows[0].tier if rows else tier_by_rule(model, None)


def set_tier(actor: Actor, vendor: str, model: str, tier: str) -> ModelTier:
    require_admin(actor.user)
    if tier not in Tier.values:
        raise ValidationError(f"Choose a tier: {', '.join(Tier.values)}.")
    if vendor not in Vendor.values:
        raise ValidationError(f"Unknown vendor {vendor!r}.")
    model = normalize_model_name(model)
    with transaction.atomic():
        previous = tier_of(vendor, model)
        reclassified, _ = ModelTier.objects.update_or_create(
            vendor=vendor, model=model, defaults={"tier": tier}
        )
        record(actor, "model.reclassified", reclassified, tier=[previous, tier])
    return reclassified


def create_override(actor: Actor, **fields) -> PriceOverride:
    require_admin(actor.user)
    fields["model"] = normalize_model_name(fields["model"])
    with transaction.atomic():
        override = PriceOverride(**fields)
        _check_unique(override)
        override.save()
        record(
            actor,
            "model.override_created",
            override,
            **_stated(override),
        )
        _reprice_after_commit(override.vendor, override.model)
    return override


def update_override(actor: Actor, override: PriceOverride, **fields) -> PriceOverride:
    require_admin(actor.user)
    if "model" in fields:
        fields["model"] = normalize_model_name(fields["model"])
    before = (override.vendor, override.model)
    with transaction.atomic():
        _check_unique(PriceOverride(pk=override.pk, **{**_stated(override), **fields}))
        save_changes(actor, override, "model.override_updated", fields)
        _reprice_after_commit(*before)
        if (override.vendor, override.model) != before:
            _reprice_after_commit(override.vendor, override.model)
    return override


def delete_override(actor: Actor, override: PriceOverride) -> None:
    require_admin(actor.user)
    with transaction.atomic():
        record(
            actor,
            "model.override_deleted",
            override,
            **_stated(override),
        )
        override.delete()
        _reprice_after_commit(override.vendor, override.model)


def _reprice_after_commit(vendor: str, model: str) -> None:
    """Past usage of the model is priced again once the new price is stored."""
    transaction.on_commit(lambda: reprice_model.delay(vendor, model))


def _check_unique(override):
    clash = PriceOverride.objects.filter(
        vendor=override.vendor,
        model=override.model,
        effective_from=override.effective_from,
    ).exclude(pk=override.pk)
    if clash.exists():
        since = override.effective_from or "always"
        raise ValidationError(
            f"{override.model} already has an override from {since}: edit that one."
        )


def _stated(override) -> dict:
    return snapshot(override, OVERRIDE_FIELDS)
