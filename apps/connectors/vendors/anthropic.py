"""Anthropic's Admin API (an admin key, sk-ant-admin01-…)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from apps.connectors.rows import CostRow, InventoryKey, UsageRow
from apps.connectors.vendors.base import (
    Connector,
    ConnectorError,
    field,
    next_cursor,
)
from apps.vault.models import Vendor

API_VERSION = "2023-06-01"
USAGE = "/v1/organizations/usage_report/messages"
COSTS = "/v1/organizations/cost_report"
KEYS = "/v1/organizations/api_keys"
USAGE_GROUPS = ["api_key_id", "workspace_id", "model", "service_tier", "context_window"]
COST_GROUPS = ["workspace_id", "description"]
# A usage page holds every key's and model's results for its hours and is read
# whole, so hours per page set a sync's memory: six keep a page of a 10,000-key
# organization near 100 MB, at four requests a day. Cost pages are small: the
# largest the API serves, a month of days.
HOURS_PER_PAGE = 6
DAYS_PER_PAGE = 31
LIST_LIMIT = 100
# A cost line's qualifiers at these values are the ones its description implies.
PLAIN_QUALIFIERS = {None, "", "standard", "0-200k", "global", "not_available"}
CENTS = Decimal(100)


class AnthropicConnector(Connector):
    vendor = Vendor.ANTHROPIC
    default_base_url = "https://api.anthropic.com"
    reports_usage = True
    lists_keys = True
    revokes_keys = True
    no_create_reason = (
        "Anthropic's Admin API cannot create keys: create the key in the Claude "
        "Console, then register it in Keyhold"
    )

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"x-api-key": admin_key, "anthropic-version": API_VERSION}

    def check(self) -> str:
        page = self.client.get_json("/v1/organizations/workspaces", {"limit": 1})
        workspaces = field(page, "data")
        if not workspaces:
            # Every organization has a default workspace the API does not list.
            return "organization reachable: default workspace only"
        name = field(workspaces[0], "name")
        more = " and more" if page.get("has_more") else ""
        return f"organization reachable: workspace {name}{more} visible"

    def usage_pages(self, start: datetime, end: datetime) -> Iterator[list[UsageRow]]:
        params = _window(start, end) | {
            "bucket_width": "1h",
            "group_by[]": USAGE_GROUPS,
            "limit": HOURS_PER_PAGE,
        }
        for buckets in self._report_pages(USAGE, params):
            yield _rows(buckets, _usage)

    def cost_pages(self, start: datetime, end: datetime) -> Iterator[list[CostRow]]:
        params = _window(start, end) | {
            "bucket_width": "1d",
            "group_by[]": COST_GROUPS,
            "limit": DAYS_PER_PAGE,
        }
        for buckets in self._report_pages(COSTS, params):
            yield _rows(buckets, _cost)

    def list_keys(self) -> Iterator[InventoryKey]:
        params = {"limit": LIST_LIMIT}
        while True:
            page = self.client.get_json(KEYS, params)
            keys, more = field(page, "data"), field(page, "has_more")
            yield from (_inventory_key(key) for key in keys)
            if not more:
                return
            cursor = next_cursor(page, "last_id", params.get("after_id"))
            params = params | {"after_id": cursor}

    def revoke_key(self, vendor_key_id: str, vendor_project_id: str = "") -> None:
        """Deactivate the key: Anthropic keys can be switched off, never deleted."""
        path = f"{KEYS}/{quote(vendor_key_id, safe='')}"
        # Setting a status twice leaves it the same, so an outage may be retried.
        key = self.client.post_json(path, {"status": "inactive"}, idempotent=True)
        if field(key, "status") != "inactive":
            raise ConnectorError(f"Anthropic left the key {field(key, 'status')}")


def _window(start: datetime, end: datetime) -> dict:
    return {"starting_at": _rfc3339(start), "ending_at": _rfc3339(end)}


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined UTC time")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(payload: dict, name: str) -> datetime:
    """The RFC 3339 time ``payload[name]`` as an aware UTC datetime."""
    text = field(payload, name)
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConnectorError(f"unexpected response: {name} is not a time") from None
    if moment.tzinfo is None:
        raise ConnectorError(f"unexpected response: {name} has no time zone")
    return moment.astimezone(UTC)


def _rows(buckets: list[dict], make_row) -> list:
    """``make_row(result, start, width)`` for each result of each bucket."""
    rows = []
    for bucket in buckets:
        start = _moment(bucket, "starting_at")
        width = int((_moment(bucket, "ending_at") - start).total_seconds())
        rows += [make_row(result, start, width) for result in field(bucket, "results")]
    return rows


def _usage(result: dict, start: datetime, width: int) -> UsageRow:
    tier = result.get("service_tier") or ""
    return UsageRow(
        start=start,
        width=width,
        # No key is Console (Workbench) use; no workspace is the default one.
        vendor_key_id=result.get("api_key_id") or "",
        vendor_project_id=result.get("workspace_id") or "",
        model=result.get("model") or "",
        service_tier=tier,
        batch=tier == "batch",
        context_band=result.get("context_window") or "",
        uncached_input=_count(result, "uncached_input_tokens"),
        cache_read=_count(result, "cache_read_input_tokens"),
        cache_write_5m=_count(result, "cache_creation", "ephemeral_5m_input_tokens"),
        cache_write_1h=_count(result, "cache_creation", "ephemeral_1h_input_tokens"),
        output=_count(result, "output_tokens"),
        requests=None,
    )


def _count(result: dict, *path: str) -> int:
    value = field(result, *path)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConnectorError(f"unexpected response: {'.'.join(path)} is not a count")
    return value


def _cost(result: dict, start: datetime, width: int) -> CostRow:
    cents = field(result, "amount")
    # The amount is a decimal string of cents; a float would lose the fraction.
    try:
        amount = Decimal(str(cents)) / CENTS
    except InvalidOperation:
        raise ConnectorError("unexpected response: amount is not a number") from None
    if not amount.is_finite():
        raise ConnectorError("unexpected response: amount is not a number")
    return CostRow(
        day=start.date(),
        vendor_project_id=result.get("workspace_id") or "",
        vendor_key_id="",
        line_item=_line_item(result),
        amount=amount,
        currency=str(field(result, "currency")).upper(),
    )


def _line_item(result: dict) -> str:
    """The description, plus the tier, context and region it does not name.

    The report splits a description by service tier, context window and region,
    so without them a batch line would collide with its standard twin.
    """
    parts = ("model", "cost_type", "token_type")
    described = result.get("description") or " ".join(
        str(result[part]) for part in parts if result.get(part)
    )
    qualifiers = [
        str(result.get(name))
        for name in ("service_tier", "context_window", "inference_geo")
        if result.get(name) not in PLAIN_QUALIFIERS
    ]
    return f"{described} ({', '.join(qualifiers)})" if qualifiers else described


def _inventory_key(key: dict) -> InventoryKey:
    return InventoryKey(
        vendor_key_id=field(key, "id"),
        name=key.get("name") or "",
        vendor_project_id=key.get("workspace_id") or "",
        redacted=key.get("partial_key_hint") or "",
        status=field(key, "status"),
        created_at=_moment(key, "created_at") if key.get("created_at") else None,
        # Anthropic's key listing does not say when a key was last used.
        last_used_at=None,
    )
