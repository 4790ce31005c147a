"""Which active keys expire soon or outgrow their environment's rotation limit."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import DurationField, ExpressionWrapper, IntegerField, Q, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from apps.vault.models import KeyStatus, VendorKey

HORIZON_DAYS = 7
# The warning steps, nearest first: a key is at the first step its due date is within.
STEPS = ((1, "1 day"), (3, "3 days"), (7, "7 days"))
OVERDUE = "overdue"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class KeyWarning:
    key: VendorKey
    reason: str  # "expires" or "max_age"
    due_at: datetime
    days_left: int  # whole days, rounded away from zero; negative once overdue

    @property
    def level(self) -> str:
        if self.days_left < 0:
            return OVERDUE
        return next(label for days, label in STEPS if self.days_left <= days)

    @property
    def is_overdue(self) -> bool:
        return self.level == OVERDUE


def keys_needing_attention(now=None, horizon_days=HORIZON_DAYS, keys=None):
    """Warnings for active keys due (expiry or maximum age) within the horizon.

    ``keys`` narrows the search, e.g. to ``visible_keys(user)``. Overdue come first,
    then the nearest due date. One query, whatever the number of keys.
    """
    now = now or timezone.now()
    cutoff = now + timedelta(days=horizon_days)
    keys = keys if keys is not None else VendorKey.objects.all()
    candidates = (
        keys.filter(status=KeyStatus.ACTIVE)
        .select_related("project__team", "environment", "owner")
        .annotate(age_due_at=_age_due_at())
        .filter(Q(expires_at__lte=cutoff) | Q(age_due_at__lte=cutoff))
    )
    warnings = []
    for key in candidates:
        if key.expires_at is not None and key.expires_at <= cutoff:
            warnings.append(_warning(key, "expires", key.expires_at, now))
        if key.age_due_at is not None and key.age_due_at <= cutoff:
            warnings.append(_warning(key, "max_age", key.age_due_at, now))
    return sorted(warnings, key=lambda w: (w.due_at, w.key.pk, w.reason))


def _age_due_at():
    """When the current secret passes its environment's maximum age, in SQL."""
    days = Cast("environment__max_key_age_days", IntegerField())
    max_age = ExpressionWrapper(days * Value(DAY), output_field=DurationField())
    return Coalesce("rotated_at", "created_at") + max_age


def _warning(key, reason, due_at, now) -> KeyWarning:
    remaining = (due_at - now) / DAY
    days_left = math.ceil(remaining) if remaining >= 0 else math.floor(remaining)
    return KeyWarning(key=key, reason=reason, due_at=due_at, days_left=days_left)
