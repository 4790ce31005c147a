"""Anthropic Admin API: usage and cost reports, API keys and workspaces."""

import threading
from dataclasses import dataclass, field
from decimal import Decimal

from .buckets import (
    DAY,
    HOUR,
    VendorError,
    bucket_page,
    invalid,
    limit,
    list_page,
    many,
    one,
    parse_rfc3339,
    rfc3339,
    width,
)
from .org import ANTHROPIC_MODEL_NAMES, ANTHROPIC_PRICES, BATCH_DISCOUNT

USAGE_LIMITS = {"1h": (24, 168), "1d": (7, 31)}
USAGE_GROUPS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
)
COST_GROUPS = ("workspace_id", "description")
KEY_STATUSES = ("active", "inactive", "archived")
# The synthetic organization stays under 200k tokens of context, served globally.
CONTEXT_WINDOW = "0-200k"
INFERENCE_GEO = "global"
CENTS_PER_MILLION = Decimal(100) / Decimal(1_000_000)
CENT_PRECISION = Decimal("0.00001")


@dataclass
class AnthropicState:
    """Name and status changes requests made to keys in this run."""

    key_changes: dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _window(sim, query) -> tuple[int, int]:
    starting_at = one(query, "starting_at")
    if starting_at is None:
        raise invalid("starting_at is required", "starting_at")
    ending_at = one(query, "ending_at")
    end = parse_rfc3339(ending_at, "ending_at") if ending_at else sim.now()
    return parse_rfc3339(starting_at, "starting_at"), end


def _groups(query, allowed: tuple[str, ...]) -> list[str]:
    groups = many(query, "group_by")
    for name in groups:
        if name not in allowed:
            raise invalid(f"group_by[] must be among {', '.join(allowed)}", "group_by")
    return [name for name in allowed if name in groups]


def _report(buckets: list[dict], next_page: str | None) -> dict:
    return {"data": buckets, "has_more": next_page is not None, "next_page": next_page}


def _bucket(start: int, size: int, results: list[dict]) -> dict:
    return {
        "starting_at": rfc3339(start),
        "ending_at": rfc3339(start + size),
        "results": results,
    }


def _rows(sim, start: int, size: int, keep=lambda row: True):
    for hour in range(start, min(start + size, sim.now()), HOUR):
        yield from (row for row in sim.org.anthropic_usage(hour) if keep(row))


def usage_messages(sim, request) -> dict:
    query = request.query
    start, end = _window(sim, query)
    width_name, size = width(query, ("1h", "1d"))
    count = sim.page_size(limit(query, *USAGE_LIMITS[width_name]))
    groups = _groups(query, USAGE_GROUPS)
    starts, next_page = bucket_page(start, end, size, one(query, "page"), count)

    keep = _usage_filter(query)
    buckets = []
    for bucket_start in starts:
        rows = _rows(sim, bucket_start, size, keep)
        buckets.append(_bucket(bucket_start, size, _usage_results(rows, groups)))
    return _report(buckets, next_page)


def _usage_filter(query):
    keys = set(many(query, "api_key_ids"))
    workspaces = set(many(query, "workspace_ids"))
    models = set(many(query, "models"))
    tiers = set(many(query, "service_tiers"))
    windows = set(many(query, "context_window"))
    geos = set(many(query, "inference_geos"))

    def keep(row) -> bool:
        return (
            (not keys or row.api_key_id in keys)
            and (not workspaces or row.workspace_id in workspaces)
            and (not models or row.model in models)
            and (not tiers or row.service_tier in tiers)
            and (not windows or CONTEXT_WINDOW in windows)
            and (not geos or INFERENCE_GEO in geos)
        )

    return keep


def _group_value(row, name: str):
    if name == "context_window":
        return CONTEXT_WINDOW
    if name == "inference_geo":
        return INFERENCE_GEO
    return getattr(row, name)


def _usage_results(rows, groups: list[str]) -> list[dict]:
    totals: dict[tuple, list[int]] = {}
    for row in rows:
        group = tuple(_group_value(row, name) for name in groups)
        total = totals.setdefault(group, [0] * 6)
        parts = (
            row.uncached,
            row.cache_write_1h,
            row.cache_write_5m,
            row.cache_read,
            row.output,
            row.web_searches,
        )
        for index, value in enumerate(parts):
            total[index] += value
    results = []
    for group, (uncached, write_1h, write_5m, read, output, searches) in totals.items():
        named = dict(zip(groups, group, strict=True))
        results.append(
            {
                "uncached_input_tokens": uncached,
                "cache_creation": {
                    "ephemeral_1h_input_tokens": write_1h,
                    "ephemeral_5m_input_tokens": write_5m,
                },
                "cache_read_input_tokens": read,
                "output_tokens": output,
                "server_tool_use": {"web_search_requests": searches},
            }
            | {name: named.get(name) for name in USAGE_GROUPS}
        )
    return results


def cost_report(sim, request) -> dict:
    query = request.query
    start, end = _window(sim, query)
    width(query, ("1d",))
    count = sim.page_size(limit(query, 7, 31))
    groups = _groups(query, COST_GROUPS)
    starts, next_page = bucket_page(start, end, DAY, one(query, "page"), count)

    buckets = []
    for bucket_start in starts:
        items = [item for row in _rows(sim, bucket_start, DAY) for item in _costs(row)]
        buckets.append(_bucket(bucket_start, DAY, _cost_results(items, groups)))
    return _report(buckets, next_page)


_TOKEN_TYPES = (
    ("uncached_input_tokens", "Input Tokens", 0, "uncached"),
    (
        "cache_creation.ephemeral_5m_input_tokens",
        "Cache Write (5m)",
        1,
        "cache_write_5m",
    ),
    (
        "cache_creation.ephemeral_1h_input_tokens",
        "Cache Write (1h)",
        2,
        "cache_write_1h",
    ),
    ("cache_read_input_tokens", "Cache Read", 3, "cache_read"),
    ("output_tokens", "Output Tokens", 4, "output"),
)


def _costs(row) -> list[tuple]:
    """(workspace, description fields, cents) for each priced token type of a row."""
    prices = ANTHROPIC_PRICES[row.model]
    factor = BATCH_DISCOUNT if row.service_tier == "batch" else Decimal(1)
    items = []
    for token_type, label, price_index, attribute in _TOKEN_TYPES:
        tokens = getattr(row, attribute)
        if tokens:
            # Rounded per item, so any grouping of the items sums to the same total.
            cents = tokens * prices[price_index] * factor * CENTS_PER_MILLION
            cents = cents.quantize(CENT_PRECISION)
            name = ANTHROPIC_MODEL_NAMES[row.model]
            described = {
                "description": f"{name} Usage - {label}",
                "cost_type": "tokens",
                "context_window": CONTEXT_WINDOW,
                "model": row.model,
                "service_tier": row.service_tier,
                "token_type": token_type,
                "inference_geo": INFERENCE_GEO,
            }
            items.append((row.workspace_id, described, cents))
    return items


def _cost_results(items: list[tuple], groups: list[str]) -> list[dict]:
    by_description = "description" in groups
    totals: dict[tuple, list] = {}
    for workspace_id, described, cents in items:
        group = (
            workspace_id if "workspace_id" in groups else None,
            tuple(described.items()) if by_description else (),
        )
        total = totals.setdefault(group, [Decimal(0)])
        total[0] += cents
    results = []
    for (workspace_id, described), (cents,) in totals.items():
        blank = dict.fromkeys(
            (
                "description",
                "cost_type",
                "context_window",
                "model",
                "service_tier",
                "token_type",
                "inference_geo",
            )
        )
        results.append(
            {
                "currency": "USD",
                "amount": str(cents),
                "workspace_id": workspace_id,
            }
            | blank
            | dict(described)
        )
    return results


def _key(sim, key) -> dict:
    with sim.anthropic_state.lock:
        changes = sim.anthropic_state.key_changes.get(key.id, {})
    return {
        "created_at": rfc3339(key.created_at),
        "created_by": {"id": key.created_by, "type": "user"},
        "id": key.id,
        "name": changes.get("name", key.name),
        "partial_key_hint": f"sk-ant-api03-{key.hint[:3]}...{key.hint[3:]}",
        "status": changes.get("status", key.status),
        "type": "api_key",
        "workspace_id": key.workspace_id,
    }


def _list(items: list[dict], has_more: bool) -> dict:
    return {
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "has_more": has_more,
        "last_id": items[-1]["id"] if items else None,
    }


def _id_page(sim, query, items: list[dict]) -> dict:
    count = sim.page_size(limit(query, 20, 1000))
    before = one(query, "before_id")
    if before is not None:
        ids = [item["id"] for item in items]
        if before not in ids:
            raise invalid(f"No object found with id '{before}'", "before_id")
        earlier = items[: ids.index(before)]
        return _list(earlier[-count:], len(earlier) > count)
    chosen, has_more = list_page(
        items, one(query, "after_id"), count, key=lambda item: item["id"]
    )
    return _list(chosen, has_more)


def api_keys(sim, request) -> dict:
    query = request.query
    status = one(query, "status")
    if status is not None and status not in KEY_STATUSES:
        raise invalid("status must be active, inactive or archived", "status")
    workspace = one(query, "workspace_id")
    creator = one(query, "created_by_user_id")
    keys = [
        item
        for item in (_key(sim, key) for key in sim.org.anthropic_keys)
        if (status is None or item["status"] == status)
        and (workspace is None or item["workspace_id"] == workspace)
        and (creator is None or item["created_by"]["id"] == creator)
    ]
    return _id_page(sim, query, keys)


def _find_key(sim, key_id: str):
    for key in sim.org.anthropic_keys:
        if key.id == key_id:
            return key
    raise VendorError(404, "not_found_error", f"API key {key_id} not found")


def api_key(sim, request) -> dict:
    return _key(sim, _find_key(sim, request.params["api_key_id"]))


def update_api_key(sim, request) -> dict:
    key = _find_key(sim, request.params["api_key_id"])
    changes = {}
    name = request.body.get("name")
    if name is not None:
        if not isinstance(name, str) or not 1 <= len(name) <= 500:
            raise invalid("name must be 1 to 500 characters", "name")
        changes["name"] = name
    status = request.body.get("status")
    if status is not None:
        if status not in KEY_STATUSES:
            raise invalid("status must be active, inactive or archived", "status")
        changes["status"] = status
    with sim.anthropic_state.lock:
        sim.anthropic_state.key_changes.setdefault(key.id, {}).update(changes)
    return _key(sim, key)


def workspaces(sim, request) -> dict:
    items = [
        {
            "id": workspace.id,
            "archived_at": None,
            "created_at": workspace.created_at,
            "data_residency": {
                "allowed_inference_geos": "unrestricted",
                "default_inference_geo": INFERENCE_GEO,
                "workspace_geo": "us",
            },
            "display_color": workspace.display_color,
            "name": workspace.name,
            "type": "workspace",
        }
        for workspace in sim.org.workspaces
    ]
    return _id_page(sim, request.query, items)


ROUTES = [
    ("GET", r"/v1/organizations/usage_report/messages", usage_messages),
    ("GET", r"/v1/organizations/cost_report", cost_report),
    ("GET", r"/v1/organizations/api_keys", api_keys),
    ("GET", r"/v1/organizations/api_keys/(?P<api_key_id>[^/]+)", api_key),
    ("POST", r"/v1/organizations/api_keys/(?P<api_key_id>[^/]+)", update_api_key),
    ("GET", r"/v1/organizations/workspaces", workspaces),
]
