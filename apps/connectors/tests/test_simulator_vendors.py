"""The simulator serves each vendor's documented shapes, pages and auth."""

# Every URL opened here is the local simulator's own http:// address.
# ruff: noqa: S310

import json
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from apps.connectors.simulator import running_simulator

# 2025-11-01T00:00:00Z: a fixed clock, so every window below lies in the past.
NOW = 1761955200
WEEK_AGO = NOW - 7 * 86400
ANTHROPIC_WEEK_AGO = "2025-10-25T00:00:00Z"


@pytest.fixture(scope="module")
def sim():
    with running_simulator(clock=lambda: NOW) as simulator:
        yield simulator


def call(sim, path, vendor="openai", method="GET", body=None, headers=None):
    """(status, headers, raw body) of one real HTTP request to the simulator."""
    sent = dict(auth_headers(sim, vendor), **(headers or {}))
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(sim.url + path, data, sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def fetch(sim, path, vendor="openai", **options):
    status, _, raw = call(sim, path, vendor, **options)
    assert status == 200, raw
    return json.loads(raw)


def auth_headers(sim, vendor):
    key = sim.admin_keys[vendor]
    if vendor == "anthropic":
        return {"x-api-key": key, "anthropic-version": "2023-06-01"}
    return {"Authorization": f"Bearer {key}"}


def walk(sim, path, vendor="openai"):
    """Every bucket of a report, following next_page to the end."""
    buckets, page = [], None
    while True:
        suffix = f"&page={page}" if page else ""
        report = fetch(sim, path + suffix, vendor)
        buckets += report["data"]
        if not report["has_more"]:
            assert report["next_page"] is None
            return buckets
        page = report["next_page"]


COMPLETIONS_FIELDS = {
    "object",
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_uncached_tokens",
    "output_tokens",
    "input_text_tokens",
    "output_text_tokens",
    "input_cached_text_tokens",
    "input_audio_tokens",
    "input_cached_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
    "num_model_requests",
    "project_id",
    "user_id",
    "api_key_id",
    "model",
    "batch",
    "service_tier",
}


def test_openai_completions_usage_has_the_documented_shape(sim):
    report = fetch(
        sim, f"/v1/organization/usage/completions?start_time={WEEK_AGO}&limit=2"
    )

    assert set(report) == {"object", "data", "has_more", "next_page"}
    assert report["object"] == "page" and report["has_more"] is True
    bucket = report["data"][0]
    assert bucket["object"] == "bucket"
    assert bucket["end_time"] - bucket["start_time"] == 86400
    (result,) = bucket["results"]
    assert set(result) == COMPLETIONS_FIELDS
    assert result["object"] == "organization.usage.completions.result"
    assert result["input_tokens"] == (
        result["input_cached_tokens"]
        + result["input_cache_write_tokens"]
        + result["input_uncached_tokens"]
    )
    assert result["model"] is None and result["api_key_id"] is None


def test_openai_usage_groups_by_key_model_and_batch(sim):
    path = (
        f"/v1/organization/usage/completions?start_time={WEEK_AGO}&limit=1"
        "&group_by[]=api_key_id&group_by[]=model&group_by[]=batch"
    )
    results = fetch(sim, path)["data"][0]["results"]

    assert len({r["api_key_id"] for r in results}) == 10
    assert {r["model"] for r in results} >= {"gpt-5.4", "gpt-4o-2024-08-06"}
    assert {r["batch"] for r in results} == {True, False}
    assert all(r["project_id"] is None for r in results)
    assert any(r["input_cached_tokens"] for r in results)


def test_openai_hourly_buckets_follow_a_daily_rhythm(sim):
    # 2025-10-29 is a Wednesday: the afternoon is busier than the small hours.
    day = 1761696000
    path = f"/v1/organization/usage/completions?start_time={day}&bucket_width=1h"
    buckets = fetch(sim, path)["data"]

    requests = [b["results"][0]["num_model_requests"] for b in buckets]
    assert len(buckets) == 24
    assert requests[14] > 3 * requests[3]


@pytest.mark.parametrize(
    ("path", "vendor", "total"),
    [
        (
            f"/v1/organization/usage/completions?start_time={WEEK_AGO}"
            f"&end_time={NOW}&group_by[]=api_key_id",
            "openai",
            lambda r: r["input_tokens"],
        ),
        (
            f"/v1/organization/costs?start_time={WEEK_AGO}&end_time={NOW}"
            "&group_by[]=line_item",
            "openai",
            lambda r: Decimal(str(r["amount"]["value"])),
        ),
        (
            f"/v1/organizations/usage_report/messages?starting_at={ANTHROPIC_WEEK_AGO}"
            "&ending_at=2025-11-01T00:00:00Z&group_by[]=model",
            "anthropic",
            lambda r: r["uncached_input_tokens"],
        ),
        (
            f"/v1/organizations/cost_report?starting_at={ANTHROPIC_WEEK_AGO}"
            "&ending_at=2025-11-01T00:00:00Z&group_by[]=description",
            "anthropic",
            lambda r: Decimal(r["amount"]),
        ),
    ],
)
def test_walking_pages_sums_to_the_same_totals_as_one_page(sim, path, vendor, total):
    one_page = fetch(sim, path + "&limit=7", vendor)
    pages = walk(sim, path + "&limit=2", vendor)

    assert one_page["has_more"] is False
    assert len(pages) == len(one_page["data"]) == 7

    def summed(buckets):
        return sum(total(r) for b in buckets for r in b["results"])

    assert summed(pages) == summed(one_page["data"]) > 0


def test_openai_costs_follow_usage_and_have_the_documented_shape(sim):
    path = f"/v1/organization/costs?start_time={WEEK_AGO}&limit=1"
    report = fetch(sim, path)
    (result,) = report["data"][0]["results"]
    grouped = fetch(sim, path + "&group_by[]=line_item&group_by[]=project_id")

    assert set(result) == {
        "object",
        "amount",
        "line_item",
        "project_id",
        "api_key_id",
        "quantity",
        "quantity_unit",
    }
    assert result["object"] == "organization.costs.result"
    assert result["amount"]["currency"] == "usd"
    assert isinstance(result["amount"]["value"], float)
    items = grouped["data"][0]["results"]
    assert {i["quantity_unit"] for i in items} == {"tokens"}
    assert any(i["line_item"].endswith("(batch)") for i in items)
    assert sum(i["amount"]["value"] for i in items) == pytest.approx(
        result["amount"]["value"]
    )


def test_openai_costs_refuse_hourly_buckets(sim):
    status, _, raw = call(
        sim, f"/v1/organization/costs?start_time={WEEK_AGO}&bucket_width=1h"
    )

    assert status == 400
    assert json.loads(raw)["error"]["param"] == "bucket_width"


def test_openai_project_keys_list_pages_with_after(sim):
    project = fetch(sim, "/v1/organization/projects")["data"][0]
    path = f"/v1/organization/projects/{project['id']}/api_keys"
    everything = fetch(sim, path)
    first = fetch(sim, path + "?limit=2")
    rest = fetch(sim, path + f"?limit=100&after={first['last_id']}")

    assert first["object"] == "list" and first["has_more"] is True
    assert [k["id"] for k in first["data"] + rest["data"]] == [
        k["id"] for k in everything["data"]
    ]
    key = everything["data"][0]
    assert key["object"] == "organization.project.api_key"
    assert key["owner_project_access"] == "active"
    assert key["owner"]["type"] in key["owner"]


def test_openai_service_account_key_value_is_returned_once(sim):
    project = fetch(sim, "/v1/organization/projects")["data"][1]
    base = f"/v1/organization/projects/{project['id']}"
    created = fetch(
        sim, base + "/service_accounts", method="POST", body={"name": "Keyhold"}
    )
    listed = fetch(sim, base + "/api_keys?limit=100")

    assert created["object"] == "organization.project.service_account"
    assert created["role"] == "member"
    api_key = created["api_key"]
    assert api_key["object"] == "organization.project.service_account.api_key"
    assert api_key["value"].startswith("sk-svcacct-")
    assert api_key["id"] in {k["id"] for k in listed["data"]}
    assert api_key["value"] not in json.dumps(listed)
    accounts = fetch(sim, base + "/service_accounts")["data"]
    assert created["id"] in {a["id"] for a in accounts}


def test_openai_deleting_a_user_key_removes_it_from_the_list(sim):
    project = fetch(sim, "/v1/organization/projects")["data"][2]
    path = f"/v1/organization/projects/{project['id']}/api_keys"
    keys = fetch(sim, path)["data"]
    user_key = next(k for k in keys if k["owner"]["type"] == "user")

    deleted = fetch(sim, f"{path}/{user_key['id']}", method="DELETE")
    again = call(sim, f"{path}/{user_key['id']}", method="DELETE")

    assert deleted == {
        "object": "organization.project.api_key.deleted",
        "id": user_key["id"],
        "deleted": True,
    }
    assert user_key["id"] not in {k["id"] for k in fetch(sim, path)["data"]}
    assert again[0] == 404


def test_openai_admin_keys_list_redacts_the_value(sim):
    listed = fetch(sim, "/v1/organization/admin_api_keys")

    (key,) = listed["data"]
    assert key["object"] == "organization.admin_api_key"
    assert key["redacted_value"].startswith("sk-admin...")
    assert sim.admin_keys["openai"] not in json.dumps(listed)
    assert listed["first_id"] == listed["last_id"] == key["id"]


def test_anthropic_usage_report_has_the_documented_shape(sim):
    path = (
        f"/v1/organizations/usage_report/messages?starting_at={ANTHROPIC_WEEK_AGO}"
        "&group_by[]=api_key_id&group_by[]=workspace_id&group_by[]=model"
        "&group_by[]=service_tier&group_by[]=context_window&limit=1"
    )
    report = fetch(sim, path, "anthropic")

    assert set(report) == {"data", "has_more", "next_page"}
    bucket = report["data"][0]
    assert bucket["starting_at"] == ANTHROPIC_WEEK_AGO
    assert bucket["ending_at"] == "2025-10-26T00:00:00Z"
    result = bucket["results"][0]
    assert set(result["cache_creation"]) == {
        "ephemeral_1h_input_tokens",
        "ephemeral_5m_input_tokens",
    }
    assert set(result["server_tool_use"]) == {"web_search_requests"}
    assert result["context_window"] == "0-200k"
    tiers = {r["service_tier"] for r in bucket["results"]}
    assert tiers == {"standard", "batch"}
    # Workbench use has no key; the default workspace has no id.
    assert None in {r["api_key_id"] for r in bucket["results"]}


def test_anthropic_cost_report_amounts_are_cent_strings(sim):
    path = f"/v1/organizations/cost_report?starting_at={ANTHROPIC_WEEK_AGO}&limit=1"
    (total,) = fetch(sim, path, "anthropic")["data"][0]["results"]
    described = fetch(sim, path + "&group_by[]=description", "anthropic")

    assert total["currency"] == "USD"
    assert isinstance(total["amount"], str)
    assert total["model"] is None and total["token_type"] is None
    items = described["data"][0]["results"]
    assert sum(Decimal(i["amount"]) for i in items) == Decimal(total["amount"])
    item = items[0]
    assert item["description"] == "Claude Sonnet 4.5 Usage - Input Tokens"
    assert item["cost_type"] == "tokens"
    assert item["token_type"] == "uncached_input_tokens"


def test_anthropic_keys_list_filters_and_pages_by_id(sim):
    keys = fetch(sim, "/v1/organizations/api_keys", "anthropic")
    first = fetch(sim, "/v1/organizations/api_keys?limit=3", "anthropic")
    after = fetch(
        sim, f"/v1/organizations/api_keys?after_id={first['last_id']}", "anthropic"
    )
    active = fetch(sim, "/v1/organizations/api_keys?status=active", "anthropic")

    assert len(keys["data"]) == 10 and keys["has_more"] is False
    assert set(keys["data"][0]) == {
        "created_at",
        "created_by",
        "id",
        "name",
        "partial_key_hint",
        "status",
        "type",
        "workspace_id",
    }
    assert first["has_more"] is True
    assert [k["id"] for k in first["data"] + after["data"]] == [
        k["id"] for k in keys["data"]
    ]
    assert {k["status"] for k in active["data"]} == {"active"}


def test_anthropic_key_can_be_deactivated(sim):
    key = fetch(sim, "/v1/organizations/api_keys", "anthropic")["data"][7]
    path = f"/v1/organizations/api_keys/{key['id']}"

    updated = fetch(sim, path, "anthropic", method="POST", body={"status": "inactive"})

    assert updated["status"] == "inactive"
    assert fetch(sim, path, "anthropic")["status"] == "inactive"


def test_anthropic_workspaces_list_the_named_workspaces(sim):
    listed = fetch(sim, "/v1/organizations/workspaces", "anthropic")

    assert [w["name"] for w in listed["data"]] == ["Payments", "Search"]
    assert {w["type"] for w in listed["data"]} == {"workspace"}
    assert listed["first_id"] == listed["data"][0]["id"]


def test_deepseek_balance_is_strings(sim):
    balance = fetch(sim, "/user/balance", "deepseek")

    assert balance["is_available"] is True
    (info,) = balance["balance_infos"]
    assert info["currency"] == "CNY"
    assert Decimal(info["total_balance"]) == Decimal(info["granted_balance"]) + (
        Decimal(info["topped_up_balance"])
    )


def test_moonshot_balance_is_floats(sim):
    balance = fetch(sim, "/v1/users/me/balance", "moonshot")

    assert balance["code"] == 0 and balance["status"] is True
    assert {type(v) for v in balance["data"].values()} == {float}
    assert set(balance["data"]) == {
        "available_balance",
        "voucher_balance",
        "cash_balance",
    }


def test_same_seed_answers_with_the_same_bytes(sim):
    path = (
        f"/v1/organization/usage/completions?start_time={WEEK_AGO}"
        "&group_by[]=api_key_id&group_by[]=model"
    )
    with running_simulator(clock=lambda: NOW) as other:
        theirs = call(other, path)[2]
        ids = fetch(other, "/v1/organizations/api_keys", "anthropic")

    assert call(sim, path)[2] == call(sim, path)[2] == theirs
    assert [k["id"] for k in ids["data"]] == [
        k["id"] for k in fetch(sim, "/v1/organizations/api_keys", "anthropic")["data"]
    ]


@pytest.mark.parametrize(
    ("vendor", "path"),
    [
        ("openai", f"/v1/organization/costs?start_time={WEEK_AGO}"),
        ("anthropic", "/v1/organizations/api_keys"),
        ("deepseek", "/user/balance"),
        ("moonshot", "/v1/users/me/balance"),
    ],
)
@pytest.mark.parametrize("given", ["wrong", None])
def test_wrong_or_missing_key_is_refused_with_401(sim, vendor, path, given):
    name = "x-api-key" if vendor == "anthropic" else "Authorization"
    headers = {name: given if vendor == "anthropic" else f"Bearer {given}"}
    if given is None:
        headers = {name: ""}

    status, _, raw = call(sim, path, vendor, headers=headers)

    assert status == 401
    body = json.loads(raw)
    if vendor == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == "authentication_error"
    else:
        assert set(body["error"]) == {"message", "type", "param", "code"}


def test_anthropic_requires_the_version_header(sim):
    status, _, raw = call(
        sim,
        "/v1/organizations/workspaces",
        "anthropic",
        headers={"anthropic-version": ""},
    )

    assert status == 400
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"


def test_openai_embeddings_usage_has_the_documented_shape(sim):
    path = (
        f"/v1/organization/usage/embeddings?start_time={WEEK_AGO}&limit=1"
        "&group_by[]=api_key_id&group_by[]=model"
    )
    results = fetch(sim, path)["data"][0]["results"]

    assert results
    assert {r["object"] for r in results} == {"organization.usage.embeddings.result"}
    assert set(results[0]) == {
        "object",
        "input_tokens",
        "num_model_requests",
        "project_id",
        "user_id",
        "api_key_id",
        "model",
    }
    assert {r["model"] for r in results} == {"text-embedding-3-small"}


def test_openai_costs_include_embeddings(sim):
    path = f"/v1/organization/costs?start_time={WEEK_AGO}&limit=1&group_by[]=line_item"
    items = fetch(sim, path)["data"][0]["results"]

    assert "text-embedding-3-small, input" in {i["line_item"] for i in items}


def test_openai_project_key_is_read_one_at_a_time(sim):
    key = sim.org.openai_keys[4]
    path = f"/v1/organization/projects/{key.project_id}/api_keys/{key.id}"

    answer = fetch(sim, path)

    assert answer["id"] == key.id and answer["name"] == key.name
    assert call(sim, path + "x")[0] == 404


def test_openai_deleting_a_service_account_deletes_its_keys():
    with running_simulator(clock=lambda: NOW) as sim:
        base = f"/v1/organization/projects/{sim.org.projects[0].id}"
        created = fetch(
            sim, base + "/service_accounts", method="POST", body={"name": "tmp"}
        )
        account = created["id"]
        extra = fetch(
            sim,
            f"{base}/service_accounts/{account}/api_keys",
            method="POST",
            body={"name": "second"},
        )
        deleted = fetch(sim, f"{base}/service_accounts/{account}", method="DELETE")
        keys = {k["id"] for k in fetch(sim, base + "/api_keys?limit=100")["data"]}
        accounts = fetch(sim, base + "/service_accounts")["data"]

    assert extra["object"] == "organization.project.service_account.api_key"
    assert deleted == {
        "object": "organization.project.service_account.deleted",
        "id": account,
        "deleted": True,
    }
    assert not {created["api_key"]["id"], extra["id"]} & keys
    assert account not in {a["id"] for a in accounts}


def test_page_cap_serves_fewer_items_than_asked_for():
    with running_simulator(clock=lambda: NOW, page_cap=2) as sim:
        report = fetch(
            sim, f"/v1/organization/usage/completions?start_time={WEEK_AGO}&limit=7"
        )
        keys = fetch(sim, "/v1/organizations/api_keys?limit=100", "anthropic")

    assert len(report["data"]) == 2 and report["has_more"] is True
    assert len(keys["data"]) == 2 and keys["has_more"] is True


def test_canned_bodies_are_served_verbatim_in_turn_behind_the_auth_check():
    path = "/v1/organization/costs"
    first = {"object": "page", "data": [], "has_more": True, "next_page": "p2"}
    second = {"object": "page", "data": [], "has_more": False, "next_page": None}
    with running_simulator(canned={path: [first, second]}) as sim:
        refused = call(sim, path, headers={"Authorization": "Bearer wrong"})[0]
        answers = [fetch(sim, path), fetch(sim, path + "?page=p2")]
        exhausted = call(sim, path)[0]

    assert refused == 401
    assert answers == [first, second]
    assert exhausted == 404
