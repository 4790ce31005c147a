"""A month of spend as a FOCUS 1.0 cost and usage file, for FinOps tools to import.

FOCUS (the FinOps Open Cost and Usage Specification) names the columns; Keyhold
fills them from the daily rollup, one row per day, connection, key and model. The
rows are written as they are read, so a large month never sits in memory.
"""

import csv
import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse

from apps.spend.report import next_month, vendor_label, visible_spend

VERSION = "1.0"
# The columns FOCUS 1.0 requires and the conditional and recommended ones that
# Keyhold can fill, in alphabetical order, then Keyhold's own (FOCUS reserves the
# x_ prefix for them).
COLUMNS = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_UnpricedTokens",
)
TOKENS_UNIT = "Tokens"
TOKENS = F("uncached_input") + F("cache_read") + F("cache_write") + F("output")
CHUNK = 2000
SCALE = Decimal("1e-10")


class _Echo:
    """A file whose write hands the line back, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def focus_filename(month: date) -> str:
    return f"keyhold-focus-{VERSION}-{month:%Y-%m}.csv"


def focus_csv(user, month: date) -> Iterator[str]:
    """The header, then one CSV line per row of the month the user may read."""
    writer = csv.writer(_Echo(), lineterminator="\n")
    yield writer.writerow(COLUMNS)
    for row in focus_rows(user, month):
        yield writer.writerow([row[name] for name in COLUMNS])


def focus_download(user, month: date) -> StreamingHttpResponse:
    """The month's export as a streamed attachment, for the page and the API."""
    response = StreamingHttpResponse(
        focus_csv(user, month), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{focus_filename(month)}"'
    return response


def focus_rows(user, month: date) -> Iterator[dict]:
    """FOCUS rows for the month starting on ``month``, as {column: text}."""
    end = next_month(month)
    period = (_timestamp(month), _timestamp(end))
    for item in _groups(user, month, end).iterator(chunk_size=CHUNK):
        yield _row(item, period)


def _groups(user, start: date, end: date):
    # A vault key groups all its vendor ids (rotations); usage on an unknown key
    # groups by the vendor's id for it.
    unknown_key = Case(
        When(key__isnull=True, then=F("vendor_key_id")), default=Value("")
    )
    return (
        visible_spend(user)
        .filter(day__gte=start, day__lt=end)
        .annotate(g_vendor_key=unknown_key)
        .values(
            "day",
            "connection_id",
            "connection__name",
            "vendor",
            "key_id",
            "g_vendor_key",
            "vendor_project_id",
            "model",
            "derived",
            "currency",
            "key__name",
            "key__project__name",
            "key__project__team__name",
            "key__environment__name",
        )
        .annotate(
            cost=Sum("cost_usd"),
            unconverted=Count("pk", filter=Q(cost_usd=None)),
            amount=Sum("amount"),
            tokens=Coalesce(Sum(TOKENS), Value(0)),
            unpriced=Coalesce(Sum("unpriced_tokens"), Value(0)),
        )
        .order_by(
            "day",
            "connection__name",
            "connection_id",
            "key_id",
            "g_vendor_key",
            "vendor_project_id",
            "model",
            "derived",
            "currency",
        )
    )


def _row(item: dict, period: tuple[str, str]) -> dict:
    vendor = vendor_label(item["vendor"])
    cost, currency = _cost(item)
    resource = str(item["key_id"]) if item["key_id"] else item["g_vendor_key"]
    sku = f"{item['vendor']}/{item['model']}" if item["model"] else ""
    # Balance-derived spend knows no tokens: its quantity is unknown, not zero.
    quantity = str(item["tokens"]) if item["tokens"] or not item["derived"] else ""
    sub_account = item["vendor_project_id"]
    return {
        "BilledCost": cost,
        "BillingAccountId": str(item["connection_id"]),
        "BillingAccountName": item["connection__name"],
        "BillingCurrency": currency,
        "BillingPeriodEnd": period[1],
        "BillingPeriodStart": period[0],
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ChargeDescription": _description(item, vendor),
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _timestamp(item["day"] + timedelta(days=1)),
        "ChargePeriodStart": _timestamp(item["day"]),
        "ConsumedQuantity": quantity,
        "ConsumedUnit": TOKENS_UNIT if quantity else "",
        # Keyhold prices usage at the catalog's rates, or at a negotiated price
        # where one is set: that one figure is all it knows of each cost.
        "ContractedCost": cost,
        "EffectiveCost": cost,
        "InvoiceIssuerName": vendor,
        "ListCost": cost,
        "PricingCategory": "Standard",
        "PricingQuantity": quantity,
        "PricingUnit": TOKENS_UNIT if quantity else "",
        "ProviderName": vendor,
        "PublisherName": vendor,
        "RegionId": "",
        "RegionName": "",
        "ResourceId": resource,
        "ResourceName": item["key__name"] or "",
        "ResourceType": "API key" if resource else "",
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": f"{vendor} API",
        "SkuId": sku,
        # The rollup keeps no price tier, so a SKU has a single price id.
        "SkuPriceId": sku,
        "SubAccountId": sub_account,
        # FOCUS names a sub-account only when it has an id.
        "SubAccountName": (item["key__project__name"] or "") if sub_account else "",
        "Tags": _tags(item),
        "x_UnpricedTokens": str(item["unpriced"]),
    }


def _cost(item: dict) -> tuple[str, str]:
    """The row's cost and its currency: USD, else as the vendor stated it.

    Derived spend in a currency with no USD rate keeps its own amount, so the
    export loses no charge; only a day that changed currencies has no figure.
    """
    if item["unconverted"]:
        if item["currency"] and item["amount"] is not None:
            return _number(item["amount"]), item["currency"]
        return "", ""
    return _number(item["cost"] or Decimal(0)), "USD"


def _description(item: dict, vendor: str) -> str:
    if not item["derived"]:
        return f"{vendor} {item['model']} tokens"
    if item["model"]:
        return f"{vendor} {item['model']} spend from the billing export"
    return f"{vendor} spend derived from the prepaid balance"


def _tags(item: dict) -> str:
    tags = {
        "team": item["key__project__team__name"],
        "project": item["key__project__name"],
        "environment": item["key__environment__name"],
    }
    present = {name: value for name, value in tags.items() if value}
    return json.dumps(present, sort_keys=True) if present else ""


def _number(value: Decimal) -> str:
    # At the rollup's own scale, so the rows add up to its totals in any tool;
    # plain digits, as every spreadsheet reads them.
    return format(value.quantize(SCALE).normalize(), "f")


def _timestamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"
