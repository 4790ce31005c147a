"""The vendor's own bill beside Keyhold's computed cost, per connection and day."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from apps.connectors.models import Connection
from apps.usage.models import DailySpend, ReportedCost


@dataclass(frozen=True)
class ReconciliationDay:
    day: date
    computed_usd: Decimal
    unpriced_tokens: int
    reported_usd: Decimal | None

    @property
    def drift_usd(self) -> Decimal | None:
        """Computed minus reported: positive when Keyhold counts more than billed."""
        if self.reported_usd is None:
            return None
        return self.computed_usd - self.reported_usd

    @property
    def drift_percent(self) -> Decimal | None:
        if self.drift_usd is None or not self.reported_usd:
            return None
        return self.drift_usd * 100 / self.reported_usd


def reconcile(
    connection: Connection, start: date, end: date
) -> list[ReconciliationDay]:
    """One row per day in [start, end) that has computed or reported figures.

    Only reports in USD are compared; vendors bill Keyhold's vendors in USD.
    """
    computed = {
        row["day"]: row
        for row in DailySpend.objects.filter(
            connection=connection, derived=False, day__gte=start, day__lt=end
        )
        .values("day")
        .annotate(cost=Sum("cost_usd"), unpriced=Sum("unpriced_tokens"))
        .order_by()
    }
    reported = dict(
        ReportedCost.objects.filter(
            connection=connection, currency="USD", day__gte=start, day__lt=end
        )
        .values("day")
        .annotate(total=Sum("amount"))
        .values_list("day", "total")
        .order_by()
    )
    days = sorted(computed.keys() | reported.keys(), reverse=True)
    return [
        ReconciliationDay(
            day=day,
            computed_usd=(computed.get(day) or {}).get("cost") or Decimal(0),
            unpriced_tokens=(computed.get(day) or {}).get("unpriced") or 0,
            reported_usd=reported.get(day),
        )
        for day in days
    ]
