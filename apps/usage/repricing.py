"""Pricing stored usage again after the prices changed."""

import logging
from collections import defaultdict
from datetime import UTC

from django.db import transaction

from apps.catalog.pricing import PriceBook
from apps.connectors.models import Connection
from apps.usage import rollups
from apps.usage.models import UsageBucket

logger = logging.getLogger(__name__)

CHUNK = 5000


def reprice(vendor: str, model: str = "", *, only_unpriced: bool = False) -> int:
    """Recompute stored bucket costs of a vendor (one model, or all); return changes.

    An override added, changed or removed, or a newer catalog, changes what past
    usage cost: unpriced usage becomes priced, and the rollups follow.
    """
    prices = PriceBook(vendor)
    buckets = UsageBucket.objects.filter(connection__vendor=vendor)
    if model:
        buckets = buckets.filter(model=model)
    if only_unpriced:
        buckets = buckets.filter(cost_usd=None)
    ids = list(buckets.order_by("pk").values_list("pk", flat=True))
    touched = defaultdict(set)
    changed = 0
    for offset in range(0, len(ids), CHUNK):
        with transaction.atomic():
            chunk = UsageBucket.objects.filter(pk__in=ids[offset : offset + CHUNK])
            updates = []
            for bucket in chunk:
                cost = prices.cost(bucket)
                if cost != bucket.cost_usd:
                    bucket.cost_usd = cost
                    updates.append(bucket)
                    touched[bucket.connection_id].add(
                        bucket.start.astimezone(UTC).date()
                    )
            UsageBucket.objects.bulk_update(updates, ["cost_usd"])
            changed += len(updates)
    for connection in Connection.objects.filter(pk__in=touched):
        with transaction.atomic():
            rollups.refresh(connection, sorted(touched[connection.pk]))
    if changed:
        logger.info("repriced %d bucket(s) of %s %s", changed, vendor, model or "(all)")
    return changed
