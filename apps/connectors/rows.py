"""The normalized rows connectors hand to the rest of Keyhold.

Connectors translate each vendor's payloads into these; nothing outside a connector
module reads a vendor's field names.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

HOUR = 3600
DAY = 86400


@dataclass(slots=True)
class UsageRow:
    """One vendor-reported usage bucket for one key and model.

    Token counts are disjoint: total input is uncached + cache read + both cache
    writes. ``requests`` is None where the vendor does not count requests.
    """

    start: datetime
    width: int
    vendor_key_id: str
    vendor_project_id: str
    model: str
    service_tier: str
    batch: bool
    context_band: str
    uncached_input: int
    cache_read: int
    cache_write_5m: int
    cache_write_1h: int
    output: int
    requests: int | None


@dataclass(slots=True)
class CostRow:
    """One line of a vendor's own cost report for one UTC day."""

    day: date
    vendor_project_id: str
    vendor_key_id: str
    line_item: str
    amount: Decimal
    currency: str  # upper-case ISO 4217


@dataclass(slots=True)
class InventoryKey:
    """One API key as the vendor lists it; never its secret."""

    vendor_key_id: str
    name: str
    vendor_project_id: str
    redacted: str
    status: str  # "active", or the vendor's word for a key that no longer works
    created_at: datetime | None
    last_used_at: datetime | None


@dataclass(slots=True)
class Balance:
    """What a prepaid account holds now, or what a gateway has billed so far.

    ``spent_to_date`` is the gateway's running total where it publishes one: spend
    is then its increase, and top-ups cannot be mistaken for refunds.
    """

    currency: str
    available: Decimal
    spent_to_date: Decimal | None = None


@dataclass(slots=True)
class CreatedKey:
    """A key the vendor has just made; ``secret`` is shown by the vendor only once."""

    vendor_key_id: str
    vendor_project_id: str
    secret: str
