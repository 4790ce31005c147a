"""OpenAI Administration API: usage, costs, projects, keys and service accounts."""

import secrets
import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal

from .buckets import (
    DAY,
    HOUR,
    VendorError,
    bucket_page,
    integer,
    invalid,
    limit,
    list_page,
    many,
    one,
    width,
)
from .org import (
    BATCH_DISCOUNT,
    OPENAI_EMBEDDING_PRICES,
    OPENAI_PRICES,
    OpenAIEmbeddingUsage,
    OpenAIKey,
    Owner,
)

USAGE_LIMITS = {"1h": (24, 168), "1d": (7, 31)}
COMPLETIONS_GROUPS = (
    "project_id",
    "user_id",
    "api_key_id",
    "model",
    "batch",
    "service_tier",
)
EMBEDDINGS_GROUPS = ("project_id", "user_id", "api_key_id", "model")
COST_GROUPS = ("project_id", "line_item", "api_key_id")
MILLION = Decimal(1_000_000)


@dataclass
class OpenAIState:
    """What requests changed in this run: deleted keys, service accounts."""

    deleted_key_ids: set[str] = field(default_factory=set)
    deleted_service_accounts: set[tuple[str, str]] = field(default_factory=set)
    service_accounts: dict[str, list[Owner]] = field(default_factory=dict)
    created_keys: list[OpenAIKey] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _window(sim, query) -> tuple[int, int]:
    start = integer(query, "start_time")
    if start is None:
        raise invalid("start_time is required", "start_time")
    return start, integer(query, "end_time", sim.now())


def _groups(query, allowed: tuple[str, ...]) -> list[str]:
    groups = many(query, "group_by")
    for name in groups:
        if name not in allowed:
            raise invalid(f"group_by must be among {', '.join(allowed)}", "group_by")
    return [name for name in allowed if name in groups]


def _envelope(buckets: list[dict], next_page: str | None) -> dict:
    return {
        "object": "page",
        "data": buckets,
        "has_more": next_page is not None,
        "next_page": next_page,
    }


def _hours(sim, start: int, size: int) -> range:
    return range(start, min(start + size, sim.now()), HOUR)


def usage_completions(sim, request) -> dict:
    query = request.query
    start, end = _window(sim, query)
    width_name, size = width(query, ("1h", "1d"))
    count = sim.page_size(limit(query, *USAGE_LIMITS[width_name]))
    groups = _groups(query, COMPLETIONS_GROUPS)
    starts, next_page = bucket_page(start, end, size, one(query, "page"), count)

    keep = _usage_filter(query)
    buckets = []
    for bucket_start in starts:
        rows = [
            row
            for hour in _hours(sim, bucket_start, size)
            for row in sim.org.openai_usage(hour)
            if keep(row)
        ]
        buckets.append(_bucket(bucket_start, size, _completions_results(rows, groups)))
    return _envelope(buckets, next_page)


def usage_embeddings(sim, request) -> dict:
    query = request.query
    start, end = _window(sim, query)
    width_name, size = width(query, ("1h", "1d"))
    count = sim.page_size(limit(query, *USAGE_LIMITS[width_name]))
    groups = _groups(query, EMBEDDINGS_GROUPS)
    starts, next_page = bucket_page(start, end, size, one(query, "page"), count)

    keep = _usage_filter(query)
    buckets = []
    for bucket_start in starts:
        rows = [
            row
            for hour in _hours(sim, bucket_start, size)
            for row in sim.org.openai_embeddings_usage(hour)
            if keep(row)
        ]
        buckets.append(_bucket(bucket_start, size, _embeddings_results(rows, groups)))
    return _envelope(buckets, next_page)


def _embeddings_results(rows, groups: list[str]) -> list[dict]:
    totals: dict[tuple, list[int]] = {}
    for row in rows:
        group = tuple(getattr(row, name) for name in groups)
        total = totals.setdefault(group, [0, 0])
        total[0] += row.input_tokens
        total[1] += row.requests
    return [
        {
            "object": "organization.usage.embeddings.result",
            "input_tokens": input_tokens,
            "num_model_requests": requests,
        }
        | dict.fromkeys(EMBEDDINGS_GROUPS)
        | dict(zip(groups, group, strict=True))
        for group, (input_tokens, requests) in totals.items()
    ]


def _usage_filter(query):
    wanted = {
        "project_id": set(many(query, "project_ids")),
        "user_id": set(many(query, "user_ids")),
        "api_key_id": set(many(query, "api_key_ids")),
        "model": set(many(query, "models")),
    }
    batch = one(query, "batch")

    def keep(row) -> bool:
        for name, values in wanted.items():
            if values and getattr(row, name) not in values:
                return False
        return batch is None or getattr(row, "batch", False) == (batch == "true")

    return keep


def _bucket(start: int, size: int, results: list[dict]) -> dict:
    return {
        "object": "bucket",
        "start_time": start,
        "end_time": start + size,
        "results": results,
    }


def _completions_results(rows, groups: list[str]) -> list[dict]:
    totals: dict[tuple, dict] = {}
    for row in rows:
        group = tuple(getattr(row, name) for name in groups)
        total = totals.setdefault(group, dict.fromkeys(_METRICS, 0))
        for name, metric in _METRICS.items():
            total[name] += metric(row)
    results = []
    for group, total in totals.items():
        keys = dict.fromkeys(COMPLETIONS_GROUPS) | dict(zip(groups, group, strict=True))
        results.append(_completions_result(total) | keys)
    return results


_METRICS = {
    "input_tokens": lambda row: row.input_tokens,
    "input_cached_tokens": lambda row: row.cached,
    "input_cache_write_tokens": lambda row: row.cache_write,
    "input_uncached_tokens": lambda row: row.uncached,
    "output_tokens": lambda row: row.output,
    "num_model_requests": lambda row: row.requests,
}


def _completions_result(total: dict) -> dict:
    # The synthetic organization sends text only: audio and image counts stay 0.
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": total["input_tokens"],
        "input_cached_tokens": total["input_cached_tokens"],
        "input_cache_write_tokens": total["input_cache_write_tokens"],
        "input_uncached_tokens": total["input_uncached_tokens"],
        "output_tokens": total["output_tokens"],
        "input_text_tokens": total["input_tokens"],
        "output_text_tokens": total["output_tokens"],
        "input_cached_text_tokens": total["input_cached_tokens"],
        "input_audio_tokens": 0,
        "input_cached_audio_tokens": 0,
        "output_audio_tokens": 0,
        "input_image_tokens": 0,
        "input_cached_image_tokens": 0,
        "output_image_tokens": 0,
        "num_model_requests": total["num_model_requests"],
    }


def costs(sim, request) -> dict:
    query = request.query
    start, end = _window(sim, query)
    width(query, ("1d",))
    count = sim.page_size(limit(query, 7, 180))
    groups = _groups(query, COST_GROUPS)
    starts, next_page = bucket_page(start, end, DAY, one(query, "page"), count)

    projects = set(many(query, "project_ids"))
    keys = set(many(query, "api_key_ids"))
    buckets = []
    for bucket_start in starts:
        items = [
            item
            for hour in _hours(sim, bucket_start, DAY)
            for row in _priced_usage(sim, hour)
            if (not projects or row.project_id in projects)
            and (not keys or row.api_key_id in keys)
            for item in _line_items(row)
        ]
        buckets.append(_bucket(bucket_start, DAY, _cost_results(items, groups)))
    return _envelope(buckets, next_page)


def _priced_usage(sim, hour: int) -> list:
    return [*sim.org.openai_usage(hour), *sim.org.openai_embeddings_usage(hour)]


def _line_items(row) -> list[tuple]:
    """(project, key, line item, tokens, USD) for each priced part of a usage row."""
    if isinstance(row, OpenAIEmbeddingUsage):
        price = OPENAI_EMBEDDING_PRICES[row.model]
        amount = row.input_tokens * price / MILLION
        line_item = f"{row.model}, input"
        return [(row.project_id, row.api_key_id, line_item, row.input_tokens, amount)]
    input_price, cached_price, output_price = OPENAI_PRICES[row.model]
    factor = BATCH_DISCOUNT if row.batch else Decimal(1)
    suffix = " (batch)" if row.batch else ""
    parts = [
        ("input", row.uncached + row.cache_write, input_price),
        ("cached input", row.cached, cached_price),
        ("output", row.output, output_price),
    ]
    return [
        (
            row.project_id,
            row.api_key_id,
            f"{row.model}, {part}{suffix}",
            tokens,
            tokens * price * factor / MILLION,
        )
        for part, tokens, price in parts
        if tokens
    ]


def _cost_results(items: list[tuple], groups: list[str]) -> list[dict]:
    totals: dict[tuple, list] = {}
    for project_id, key_id, line_item, tokens, amount in items:
        named = {"project_id": project_id, "api_key_id": key_id, "line_item": line_item}
        group = tuple(named[name] for name in groups)
        total = totals.setdefault(group, [0, Decimal(0)])
        total[0] += tokens
        total[1] += amount
    results = []
    for group, (tokens, amount) in totals.items():
        named = dict(zip(groups, group, strict=True))
        by_line = "line_item" in groups
        results.append(
            {
                "object": "organization.costs.result",
                "amount": {"value": float(round(amount, 8)), "currency": "usd"},
                "line_item": named.get("line_item"),
                "project_id": named.get("project_id"),
                "api_key_id": named.get("api_key_id"),
                "quantity": tokens if by_line else None,
                "quantity_unit": "tokens" if by_line else None,
            }
        )
    return results


def _list(items: list[dict], has_more: bool) -> dict:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


def projects(sim, request) -> dict:
    query = request.query
    chosen, has_more = list_page(
        sim.org.projects, one(query, "after"), sim.page_size(limit(query, 20, 100))
    )
    return _list([_project(project) for project in chosen], has_more)


def _project(project) -> dict:
    return {
        "id": project.id,
        "object": "organization.project",
        "name": project.name,
        "created_at": project.created_at,
        "archived_at": None,
        "status": "active",
        "external_key_id": None,
        "residency": None,
    }


def _find_project(sim, project_id: str):
    for project in sim.org.projects:
        if project.id == project_id:
            return project
    raise VendorError(
        404, "invalid_request_error", f"No such project: '{project_id}'", "project_id"
    )


def _project_keys(sim, project_id: str) -> list[OpenAIKey]:
    state = sim.openai_state
    with state.lock:
        keys = [*sim.org.openai_keys, *state.created_keys]
        return [
            key
            for key in keys
            if key.project_id == project_id and key.id not in state.deleted_key_ids
        ]


def project_api_keys(sim, request) -> dict:
    query = request.query
    project = _find_project(sim, request.params["project_id"])
    access = one(query, "owner_project_access")
    if access not in (None, "active", "inactive", "any"):
        raise invalid("owner_project_access must be active, inactive or any")
    # Every synthetic key's owner still has access to its project.
    keys = [] if access == "inactive" else _project_keys(sim, project.id)
    count = sim.page_size(limit(query, 20, 100))
    chosen, has_more = list_page(keys, one(query, "after"), count)
    return _list([_project_key(key) for key in chosen], has_more)


def _find_project_key(sim, project_id: str, key_id: str) -> OpenAIKey:
    for key in _project_keys(sim, project_id):
        if key.id == key_id:
            return key
    raise VendorError(
        404, "invalid_request_error", f"No such API key: '{key_id}'", "key_id"
    )


def project_api_key(sim, request) -> dict:
    project = _find_project(sim, request.params["project_id"])
    return _project_key(_find_project_key(sim, project.id, request.params["key_id"]))


def _project_key(key: OpenAIKey) -> dict:
    owner = key.owner
    if owner.type == "user":
        who = {
            "id": owner.id,
            "name": owner.name,
            "email": owner.email,
            "role": owner.role,
            "created_at": owner.created_at,
        }
    else:
        who = {
            "id": owner.id,
            "name": owner.name,
            "created_at": owner.created_at,
            "role": owner.role,
        }
    return {
        "object": "organization.project.api_key",
        "redacted_value": f"sk-proj-...{key.hint}",
        "name": key.name,
        "created_at": key.created_at,
        "last_used_at": None,
        "id": key.id,
        "owner_project_access": "active",
        "owner": {"type": owner.type, owner.type: who},
    }


def delete_project_api_key(sim, request) -> dict:
    project = _find_project(sim, request.params["project_id"])
    key_id = request.params["key_id"]
    if _find_project_key(sim, project.id, key_id).owner.type == "service_account":
        raise invalid("API keys owned by a service account cannot be deleted", "key_id")
    with sim.openai_state.lock:
        sim.openai_state.deleted_key_ids.add(key_id)
    return {
        "object": "organization.project.api_key.deleted",
        "id": key_id,
        "deleted": True,
    }


def _service_accounts(sim, project_id: str) -> list[Owner]:
    owners = {
        key.owner.id: key.owner
        for key in sim.org.openai_keys
        if key.project_id == project_id and key.owner.type == "service_account"
    }
    state = sim.openai_state
    with state.lock:
        created = state.service_accounts.get(project_id, [])
        return [
            owner
            for owner in [*owners.values(), *created]
            if (project_id, owner.id) not in state.deleted_service_accounts
        ]


def service_accounts(sim, request) -> dict:
    query = request.query
    project = _find_project(sim, request.params["project_id"])
    chosen, has_more = list_page(
        _service_accounts(sim, project.id),
        one(query, "after"),
        sim.page_size(limit(query, 20, 100)),
    )
    return _list([_service_account(owner) for owner in chosen], has_more)


def _service_account(owner: Owner) -> dict:
    return {
        "object": "organization.project.service_account",
        "id": owner.id,
        "name": owner.name,
        "role": owner.role,
        "created_at": owner.created_at,
    }


def delete_service_account(sim, request) -> dict:
    """Delete a project's service account, and with it the account's API keys."""
    project = _find_project(sim, request.params["project_id"])
    account_id = request.params["service_account_id"]
    if account_id not in {owner.id for owner in _service_accounts(sim, project.id)}:
        raise VendorError(
            404,
            "invalid_request_error",
            f"No such service account: '{account_id}'",
            "service_account_id",
        )
    owned = [
        key.id for key in _project_keys(sim, project.id) if key.owner.id == account_id
    ]
    state = sim.openai_state
    with state.lock:
        state.deleted_service_accounts.add((project.id, account_id))
        state.deleted_key_ids.update(owned)
    return {
        "object": "organization.project.service_account.deleted",
        "id": account_id,
        "deleted": True,
    }


def create_service_account(sim, request) -> dict:
    """Create a service account and, unless asked not to, its one API key."""
    project = _find_project(sim, request.params["project_id"])
    name = _name(request)
    bare = bool(request.body.get("create_service_account_only"))

    state = sim.openai_state
    with state.lock:
        number = sum(len(owners) for owners in state.service_accounts.values())
        owner = Owner(
            "service_account",
            sim.org.stable_id("svc_acct_", "created-service-account", number, 24),
            name,
            "",
            "none" if bare else "member",
            sim.now(),
        )
        state.service_accounts.setdefault(project.id, []).append(owner)
    if bare:
        return _service_account(owner) | {"api_key": None}
    return _service_account(owner) | {
        "api_key": _new_key(sim, project.id, owner, "Secret Key")
    }


def create_service_account_key(sim, request) -> dict:
    """Give an existing service account one more API key."""
    project = _find_project(sim, request.params["project_id"])
    account_id = request.params["service_account_id"]
    name = _name(request)
    for owner in _service_accounts(sim, project.id):
        if owner.id == account_id:
            return _new_key(sim, project.id, owner, name)
    raise VendorError(
        404,
        "invalid_request_error",
        f"No such service account: '{account_id}'",
        "service_account_id",
    )


def _name(request) -> str:
    name = request.body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("name is required", "name")
    return name


def _new_key(sim, project_id: str, owner: Owner, name: str) -> dict:
    """A new key for ``owner``, listed from now on; its value is shown only here."""
    value = _service_account_secret()
    state = sim.openai_state
    with state.lock:
        key = replace(
            sim.org.openai_keys[0],
            id=sim.org.stable_id("key_", "created-key", len(state.created_keys), 16),
            name=name,
            project_id=project_id,
            owner=owner,
            created_at=sim.now(),
            hint=value[-4:],
        )
        state.created_keys.append(key)
    return {
        "object": "organization.project.service_account.api_key",
        "value": value,
        "name": key.name,
        "created_at": key.created_at,
        "id": key.id,
    }


def _service_account_secret() -> str:
    """A fresh value in the shape OpenAI's own service-account keys have."""
    halves = [secrets.token_urlsafe(56)[:74] for _ in range(2)]
    return f"sk-svcacct-{halves[0]}T3BlbkFJ{halves[1]}"


def admin_api_keys(sim, request) -> dict:
    query = request.query
    order = one(query, "order", "asc")
    if order not in ("asc", "desc"):
        raise invalid("order must be asc or desc", "order")
    keys = _admin_keys(sim)
    if order == "desc":
        keys.reverse()
    chosen, has_more = list_page(
        keys,
        one(query, "after"),
        sim.page_size(limit(query, 20, 100)),
        key=lambda item: item["id"],
    )
    return _list(chosen, has_more)


def _admin_keys(sim) -> list[dict]:
    owner = sim.org.openai_users[0]
    return [
        {
            "object": "organization.admin_api_key",
            "id": sim.org.stable_id("key_", "admin-key", 0, 16),
            "name": "Keyhold connector",
            "redacted_value": f"sk-admin...{sim.admin_keys['openai'][-3:]}",
            "created_at": owner.created_at,
            "expires_at": None,
            "last_used_at": None,
            "owner": {
                "type": "user",
                "object": "organization.user",
                "id": owner.id,
                "name": owner.name,
                "created_at": owner.created_at,
                "role": owner.role,
            },
        }
    ]


ROUTES = [
    ("GET", r"/v1/organization/usage/completions", usage_completions),
    ("GET", r"/v1/organization/usage/embeddings", usage_embeddings),
    ("GET", r"/v1/organization/costs", costs),
    ("GET", r"/v1/organization/projects", projects),
    (
        "GET",
        r"/v1/organization/projects/(?P<project_id>[^/]+)/api_keys",
        project_api_keys,
    ),
    (
        "GET",
        r"/v1/organization/projects/(?P<project_id>[^/]+)/api_keys/(?P<key_id>[^/]+)",
        project_api_key,
    ),
    (
        "DELETE",
        r"/v1/organization/projects/(?P<project_id>[^/]+)/api_keys/(?P<key_id>[^/]+)",
        delete_project_api_key,
    ),
    (
        "GET",
        r"/v1/organization/projects/(?P<project_id>[^/]+)/service_accounts",
        service_accounts,
    ),
    (
        "POST",
        r"/v1/organization/projects/(?P<project_id>[^/]+)/service_accounts",
        create_service_account,
    ),
    (
        "DELETE",
        r"/v1/organization/projects/(?P<project_id>[^/]+)"
        r"/service_accounts/(?P<service_account_id>[^/]+)",
        delete_service_account,
    ),
    (
        "POST",
        r"/v1/organization/projects/(?P<project_id>[^/]+)"
        r"/service_accounts/(?P<service_account_id>[^/]+)/api_keys",
        create_service_account_key,
    ),
    ("GET", r"/v1/organization/admin_api_keys", admin_api_keys),
]
