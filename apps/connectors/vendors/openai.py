"""OpenAI's organization admin API (an admin key, sk-admin-…)."""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from apps.connectors.rows import CostRow, CreatedKey, InventoryKey, UsageRow
from apps.connectors.vendors.base import (
    Connector,
    ConnectorError,
    field,
    next_cursor,
)
from apps.vault.models import Vendor

logger = logging.getLogger(__name__)

COMPLETIONS = "/v1/organization/usage/completions"
EMBEDDINGS = "/v1/organization/usage/embeddings"
COSTS = "/v1/organization/costs"
PROJECTS = "/v1/organization/projects"
COMPLETIONS_GROUPS = ["project_id", "api_key_id", "model", "batch", "service_tier"]
EMBEDDINGS_GROUPS = ["project_id", "api_key_id", "model"]
COST_GROUPS = ["project_id", "line_item", "api_key_id"]
# A usage page holds every key's and model's results for its hours and is read
# whole, so hours per page set a sync's memory: six keep a page of a 10,000-key
# organization near 100 MB, at four requests a day. Cost pages are small: the
# largest the API serves, half a year of days.
HOURS_PER_PAGE = 6
DAYS_PER_PAGE = 180
LIST_LIMIT = 100


class OpenAIConnector(Connector):
    vendor = Vendor.OPENAI
    default_base_url = "https://api.openai.com"
    reports_usage = True
    lists_keys = True
    revokes_keys = True
    creates_keys = True

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {admin_key}"}

    def check(self) -> str:
        page = self.client.get_json(PROJECTS, {"limit": 1})
        projects = field(page, "data")
        if not projects:
            return "organization reachable, no projects yet"
        name = field(projects[0], "name")
        more = " and more" if page.get("has_more") else ""
        return f"organization reachable: project {name}{more} visible"

    def usage_pages(self, start: datetime, end: datetime) -> Iterator[list[UsageRow]]:
        """Completions pages, then embeddings pages, each hour by key and model."""
        window = _window(start, end) | {"bucket_width": "1h", "limit": HOURS_PER_PAGE}
        completions = window | {"group_by[]": COMPLETIONS_GROUPS}
        for buckets in self._report_pages(COMPLETIONS, completions):
            yield _rows(buckets, "organization.usage.completions.result", _completion)
        embeddings = window | {"group_by[]": EMBEDDINGS_GROUPS}
        for buckets in self._report_pages(EMBEDDINGS, embeddings):
            yield _rows(buckets, "organization.usage.embeddings.result", _embedding)

    def cost_pages(self, start: datetime, end: datetime) -> Iterator[list[CostRow]]:
        params = _window(start, end) | {
            "bucket_width": "1d",
            "group_by[]": COST_GROUPS,
            "limit": DAYS_PER_PAGE,
        }
        for buckets in self._report_pages(COSTS, params):
            yield _rows(buckets, "organization.costs.result", _cost)

    def list_keys(self) -> Iterator[InventoryKey]:
        """Every project's API keys; admin keys are the connection's, not listed."""
        for project in self._listed(PROJECTS):
            project_id = field(project, "id")
            # Without "any", keys whose owner lost access to the project are hidden.
            path = f"{_project_path(project_id)}/api_keys"
            for key in self._listed(path, {"owner_project_access": "any"}):
                yield _inventory_key(key, project_id)

    def revoke_key(self, vendor_key_id: str, vendor_project_id: str = "") -> None:
        """Delete a user's key, or the service account that holds only this key.

        OpenAI refuses to delete a service account's key by itself; deleting the
        account revokes all of its keys, so that is done only when it has no other.
        """
        if not vendor_project_id:
            raise ConnectorError(
                "OpenAI revokes a key only within its project, and none is known "
                "for this key: revoke it in the OpenAI dashboard"
            )
        project = _project_path(vendor_project_id)
        key_path = f"{project}/api_keys/{quote(vendor_key_id, safe='')}"
        owner = field(self.client.get_json(key_path), "owner")
        if field(owner, "type") != "service_account":
            self.client.delete_json(key_path)
            return

        account = field(owner, "service_account")
        account_id = field(account, "id")
        keys = self._listed(f"{project}/api_keys", {"owner_project_access": "any"})
        others = [
            key
            for key in keys
            if _service_account_id(key) == account_id and key.get("id") != vendor_key_id
        ]
        if others:
            name = account.get("name") or account_id
            more = "1 more key" if len(others) == 1 else f"{len(others)} more keys"
            raise ConnectorError(
                f"this key's service account {name} holds {more}: "
                "revoke it in the OpenAI dashboard"
            )
        self.client.delete_json(
            f"{project}/service_accounts/{quote(account_id, safe='')}"
        )

    def create_key(self, vendor_project_id: str, name: str) -> CreatedKey:
        """Make a service account named ``name``; OpenAI sends its key with it."""
        if not vendor_project_id:
            raise ConnectorError("OpenAI creates keys only within a project: pick one")
        project = _project_path(vendor_project_id)
        account = self.client.post_json(f"{project}/service_accounts", {"name": name})
        api_key = field(account, "api_key")
        if not isinstance(api_key, dict):
            raise ConnectorError("OpenAI created the service account without a key")
        return CreatedKey(
            vendor_key_id=field(api_key, "id"),
            vendor_project_id=vendor_project_id,
            secret=field(api_key, "value"),
        )

    def _listed(self, path: str, params: dict | None = None) -> Iterator[dict]:
        """Every item of a list endpoint, following ``after`` to the end."""
        params = (params or {}) | {"limit": LIST_LIMIT}
        while True:
            page = self.client.get_json(path, params)
            items, more = field(page, "data"), field(page, "has_more")
            yield from items
            if not more:
                return
            params = params | {
                "after": next_cursor(page, "last_id", params.get("after"))
            }


def _project_path(project_id: str) -> str:
    return f"{PROJECTS}/{quote(project_id, safe='')}"


def _window(start: datetime, end: datetime) -> dict:
    return {"start_time": _unix(start), "end_time": _unix(end)}


def _unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined Unix time")
    return int(moment.timestamp())


def _moment(payload: dict, name: str, *, optional: bool = False) -> datetime | None:
    """The Unix time ``payload[name]`` as an aware UTC datetime."""
    seconds = payload.get(name) if optional else field(payload, name)
    if seconds is None and optional:
        return None
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise ConnectorError(f"unexpected response: {name} is not a Unix time")
    return datetime.fromtimestamp(seconds, UTC)


def _rows(buckets: list[dict], kind: str, make_row) -> list:
    """``make_row(result, start, width)`` for each result of ``kind``."""
    rows = []
    for bucket in buckets:
        start = _moment(bucket, "start_time")
        width = int((_moment(bucket, "end_time") - start).total_seconds())
        for result in field(bucket, "results"):
            # A page may mix result kinds; other kinds are other reports' business.
            if field(result, "object") == kind:
                rows.append(make_row(result, start, width))
    return rows


def _completion(result: dict, start: datetime, width: int) -> UsageRow:
    total = _count(result, "input_tokens")
    cached = _count(result, "input_cached_tokens", optional=True)
    written = _count(result, "input_cache_write_tokens", optional=True)
    uncached = total - cached - written
    if result.get("input_uncached_tokens") is not None:
        stated = _count(result, "input_uncached_tokens")
        if stated != uncached:
            # The itemized counts are what is priced; the total is only checked.
            logger.warning(
                "OpenAI usage for key %s at %s: input_tokens %d is not "
                "uncached %d + cached %d + cache write %d",
                result.get("api_key_id"),
                start.isoformat(),
                total,
                stated,
                cached,
                written,
            )
        uncached = stated
    if uncached < 0:
        raise ConnectorError("unexpected response: cached input exceeds input_tokens")
    return UsageRow(
        start=start,
        width=width,
        vendor_key_id=result.get("api_key_id") or "",
        vendor_project_id=result.get("project_id") or "",
        model=result.get("model") or "",
        service_tier=result.get("service_tier") or "",
        batch=bool(result.get("batch")),
        context_band="",
        uncached_input=uncached,
        cache_read=cached,
        cache_write_5m=written,
        cache_write_1h=0,
        output=_count(result, "output_tokens"),
        requests=_count(result, "num_model_requests"),
    )


def _embedding(result: dict, start: datetime, width: int) -> UsageRow:
    return UsageRow(
        start=start,
        width=width,
        vendor_key_id=result.get("api_key_id") or "",
        vendor_project_id=result.get("project_id") or "",
        model=result.get("model") or "",
        service_tier="",
        batch=False,
        context_band="",
        uncached_input=_count(result, "input_tokens"),
        cache_read=0,
        cache_write_5m=0,
        cache_write_1h=0,
        output=0,
        requests=_count(result, "num_model_requests"),
    )


def _count(result: dict, name: str, *, optional: bool = False) -> int:
    value = result.get(name) if optional else field(result, name)
    if value is None and optional:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConnectorError(f"unexpected response: {name} is not a count")
    return value


def _cost(result: dict, start: datetime, width: int) -> CostRow:
    value = field(result, "amount", "value")
    # str() first: the JSON number arrives as a float, and Decimal(float) would
    # carry its binary error into the money.
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ConnectorError(
            "unexpected response: amount.value is not a number"
        ) from None
    if isinstance(value, bool) or not amount.is_finite():
        raise ConnectorError("unexpected response: amount.value is not a number")
    return CostRow(
        day=start.date(),
        vendor_project_id=result.get("project_id") or "",
        vendor_key_id=result.get("api_key_id") or "",
        line_item=result.get("line_item") or "",
        amount=amount,
        currency=str(field(result, "amount", "currency")).upper(),
    )


def _inventory_key(key: dict, project_id: str) -> InventoryKey:
    # A key whose owner lost access to the project stops working with it.
    access = key.get("owner_project_access") or "active"
    return InventoryKey(
        vendor_key_id=field(key, "id"),
        name=key.get("name") or "",
        vendor_project_id=project_id,
        redacted=key.get("redacted_value") or "",
        status="active" if access == "active" else "inactive",
        created_at=_moment(key, "created_at", optional=True),
        last_used_at=_moment(key, "last_used_at", optional=True),
    )


def _service_account_id(key: dict) -> str | None:
    owner = key.get("owner") or {}
    if owner.get("type") != "service_account":
        return None
    return (owner.get("service_account") or {}).get("id")
