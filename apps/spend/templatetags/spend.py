"""Money, token counts and links as the spend pages show them."""

from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()
CENT = Decimal("0.01")


@register.filter
def usd(value) -> str:
    """$1,234.56; amounts under a cent but above zero show as "< $0.01"."""
    if value is None:
        return "unknown"
    value = Decimal(value)
    if 0 < value < Decimal("0.005"):
        return "< $0.01"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value).quantize(CENT, ROUND_HALF_UP):,}"


@register.filter
def tokens(value) -> str:
    """12,345,678 as 12.3M; counts under ten thousand in full."""
    value = int(value or 0)
    for threshold, size, suffix in (
        (10**9, 10**9, "B"),
        (10**6, 10**6, "M"),
        (10**4, 10**3, "k"),
    ):
        if abs(value) >= threshold:
            scaled = Decimal(value) / size
            return f"{scaled.quantize(Decimal('0.1'), ROUND_HALF_UP)}{suffix}"
    return f"{value:,}"


@register.filter
def percent(value) -> str:
    if value is None:
        return "-"
    return f"{Decimal(value).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


@register.simple_tag
def change(current, previous) -> str:
    """How ``current`` compares with ``previous``, in words."""
    if not previous:
        return "nothing to compare"
    difference = (Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)
    word = "up" if difference >= 0 else "down"
    return f"{word} {percent(abs(difference))}"


@register.simple_tag
def spend_link(row, group_by: str, start, end):
    """The row's name, linked to the page that tells more about it."""
    if row.group_id is not None and group_by in ("team", "project", "key"):
        url = reverse(f"spend-{group_by}", args=[row.group_id])
        return format_html('<a href="{}">{}</a>', url, row.group)
    value = row.group_id if group_by == "environment" else row.group
    if group_by in ("model", "vendor", "environment") and value is not None:
        query = urlencode(
            {"start": start, "end": end, "group_by": "key", group_by: value}
        )
        url = f"{reverse('spend-explorer')}?{query}"
        return format_html('<a href="{}">{}</a>', url, row.group)
    return row.group


@register.simple_tag
def explorer_url(links: dict, group_by: str) -> str:
    return links[group_by]
