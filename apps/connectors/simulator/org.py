"""The synthetic organization the simulator serves, derived from a seed.

Every figure comes from a hash of the seed and the thing it describes (key, model,
hour), so any request is answered identically by any simulator with the same seed,
whatever was asked before it.
"""

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal

from .buckets import DAY, HOUR, rfc3339

# 2025-01-06, a Monday: keys are created in the weeks after this.
ORG_EPOCH = 1736121600

ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

# Illustrative USD prices per million tokens: (input, cached input, output).
# The simulator needs costs that follow usage, not the vendors' current price list.
OPENAI_PRICES = {
    "gpt-5.4": (Decimal("1.25"), Decimal("0.125"), Decimal("10.00")),
    "gpt-5.4-mini": (Decimal("0.25"), Decimal("0.025"), Decimal("2.00")),
    "gpt-4o-2024-08-06": (Decimal("2.50"), Decimal("1.25"), Decimal("10.00")),
}
# USD per million input tokens; embeddings have no cached or output tokens.
OPENAI_EMBEDDING_PRICES = {"text-embedding-3-small": Decimal("0.02")}
# (input, 5-minute cache write, 1-hour cache write, cache read, output).
ANTHROPIC_PRICES = {
    "claude-sonnet-4-5": (
        Decimal("3.00"),
        Decimal("3.75"),
        Decimal("6.00"),
        Decimal("0.30"),
        Decimal("15.00"),
    ),
    "claude-haiku-4-5": (
        Decimal("1.00"),
        Decimal("1.25"),
        Decimal("2.00"),
        Decimal("0.10"),
        Decimal("5.00"),
    ),
}
ANTHROPIC_MODEL_NAMES = {
    "claude-sonnet-4-5": "Claude Sonnet 4.5",
    "claude-haiku-4-5": "Claude Haiku 4.5",
}
BATCH_DISCOUNT = Decimal("0.5")


@dataclass(frozen=True)
class Owner:
    type: str  # "user" or "service_account"
    id: str
    name: str
    email: str
    role: str
    created_at: int


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    created_at: int


@dataclass(frozen=True)
class OpenAIKey:
    id: str
    name: str
    project_id: str
    owner: Owner
    created_at: int
    hint: str
    models: tuple[str, ...]
    requests_per_hour: int
    cached_share: float
    batch_share: float


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    created_at: int
    display_color: str


@dataclass(frozen=True)
class AnthropicKey:
    id: str
    name: str
    workspace_id: str | None
    created_by: str
    created_at: int
    hint: str
    status: str
    models: tuple[str, ...]
    requests_per_hour: int
    cached_share: float
    batch_share: float


@dataclass(frozen=True)
class OpenAIUsage:
    """One key's use of one model in one hour, batch or not."""

    project_id: str
    user_id: str | None
    api_key_id: str
    model: str
    batch: bool
    service_tier: str
    cached: int
    cache_write: int
    uncached: int
    output: int
    requests: int

    @property
    def input_tokens(self) -> int:
        return self.cached + self.cache_write + self.uncached


@dataclass(frozen=True)
class OpenAIEmbeddingUsage:
    """One key's embedding requests in one hour."""

    project_id: str
    user_id: str | None
    api_key_id: str
    model: str
    input_tokens: int
    requests: int


@dataclass(frozen=True)
class AnthropicUsage:
    """One key's use of one model in one hour; a None key is Workbench use."""

    api_key_id: str | None
    workspace_id: str | None
    model: str
    service_tier: str
    uncached: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    output: int
    web_searches: int


class SyntheticOrg:
    def __init__(self, seed: int = 1):
        self.seed = seed
        self.openai_users = [
            self._owner("user", "Ada Byron", "owner", 0),
            self._owner("user", "Grace Hopper", "member", 1),
            self._owner("user", "Alan Kay", "member", 2),
        ]
        self.openai_service_accounts = [
            self._owner("service_account", "billing-batch", "member", 3),
        ]
        self.projects = [
            Project(
                self.stable_id("proj_", "project", n, 24), name, ORG_EPOCH + n * DAY
            )
            for n, name in enumerate(["Payments", "Search", "Support bot"])
        ]
        self.openai_keys = self._openai_keys()
        self.workspaces = [
            Workspace(
                self.stable_id("wrkspc_01", "workspace", n, 22),
                name,
                rfc3339(ORG_EPOCH + n * DAY),
                color,
            )
            for n, (name, color) in enumerate(
                [("Payments", "#6C5BB9"), ("Search", "#E2A33B")]
            )
        ]
        self.anthropic_keys = self._anthropic_keys()

    def stable_id(self, prefix: str, kind: str, n: object, length: int) -> str:
        digest = hashlib.sha256(f"{self.seed}:{kind}:{n}".encode()).digest()
        return prefix + "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:length])

    def noise(self, *parts: object) -> float:
        """A deterministic number in [0, 1) for the given parts."""
        text = ":".join(str(part) for part in (self.seed, *parts))
        digest = hashlib.sha256(text.encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def _owner(self, kind: str, name: str, role: str, n: int) -> Owner:
        prefix = "user-" if kind == "user" else "svc_acct_"
        slug = name.lower().replace(" ", ".")
        return Owner(
            kind,
            self.stable_id(prefix, kind, n, 24),
            name,
            f"{slug}@example.com",
            role,
            ORG_EPOCH,
        )

    def _openai_keys(self) -> list[OpenAIKey]:
        models = list(OPENAI_PRICES)
        owners = [*self.openai_users, *self.openai_service_accounts]
        keys = []
        for n in range(10):
            project = self.projects[n % len(self.projects)]
            first = models[n % len(models)]
            chosen = (first,) if n % 3 else (first, models[(n + 1) % len(models)])
            keys.append(
                OpenAIKey(
                    id=self.stable_id("key_", "openai-key", n, 16),
                    name=f"{project.name} key {n + 1}",
                    project_id=project.id,
                    owner=owners[n % len(owners)],
                    created_at=project.created_at + n * HOUR * 7,
                    hint=self.stable_id("", "openai-hint", n, 3),
                    models=chosen,
                    requests_per_hour=20 + int(self.noise("oa-rate", n) * 180),
                    cached_share=0.4 if n % 2 else 0.0,
                    batch_share=0.3 if n % 4 == 1 else 0.0,
                )
            )
        return keys

    def _anthropic_keys(self) -> list[AnthropicKey]:
        models = list(ANTHROPIC_PRICES)
        workspace_ids = [None, *(w.id for w in self.workspaces)]
        statuses = ["active"] * 8 + ["inactive", "archived"]
        creator = self.stable_id("user_01", "anthropic-user", 0, 22)
        keys = []
        for n in range(10):
            keys.append(
                AnthropicKey(
                    id=self.stable_id("apikey_01", "anthropic-key", n, 22),
                    name=f"Anthropic key {n + 1}",
                    workspace_id=workspace_ids[n % len(workspace_ids)],
                    created_by=creator,
                    created_at=ORG_EPOCH + n * HOUR * 11,
                    hint=self.stable_id("", "anthropic-hint", n, 7),
                    status=statuses[n],
                    models=(models[n % 2],) if n % 3 else tuple(models),
                    requests_per_hour=10 + int(self.noise("an-rate", n) * 120),
                    cached_share=0.5 if n % 2 == 0 else 0.0,
                    batch_share=0.25 if n % 5 == 2 else 0.0,
                )
            )
        return keys

    def activity(self, series: str, hour: int) -> float:
        """Requests multiplier for an hour: busy weekdays, quiet nights and weekends."""
        local_hour = (hour % DAY) // HOUR
        weekday = ((hour - ORG_EPOCH) // DAY) % 7
        daytime = max(0.0, math.sin(math.pi * (local_hour - 6) / 14))
        weekend = 0.3 if weekday >= 5 else 1.0
        jitter = 0.7 + 0.6 * self.noise(series, hour)
        return (0.1 + 0.9 * daytime) * weekend * jitter

    def openai_usage(self, hour: int) -> list[OpenAIUsage]:
        rows = []
        for key in self.openai_keys:
            if hour < key.created_at:
                continue
            for model in key.models:
                requests = round(key.requests_per_hour * self.activity(key.id, hour))
                batched = round(requests * key.batch_share)
                for batch, count in ((False, requests - batched), (True, batched)):
                    if count:
                        rows.append(self._openai_row(key, model, batch, count, hour))
        return rows

    def _openai_row(self, key, model, batch, requests, hour) -> OpenAIUsage:
        size = 0.6 + 0.8 * self.noise("oa-size", key.id, model, hour)
        input_tokens = int(requests * 1500 * size)
        cached = int(input_tokens * key.cached_share)
        cache_write = int(input_tokens * 0.05) if cached else 0
        return OpenAIUsage(
            project_id=key.project_id,
            user_id=key.owner.id if key.owner.type == "user" else None,
            api_key_id=key.id,
            model=model,
            batch=batch,
            service_tier="batch" if batch else "default",
            cached=cached,
            cache_write=cache_write,
            uncached=input_tokens - cached - cache_write,
            output=int(requests * 400 * size),
            requests=requests,
        )

    def openai_embeddings_usage(self, hour: int) -> list[OpenAIEmbeddingUsage]:
        """Embeddings from the Search project's keys, beside their completions."""
        model = next(iter(OPENAI_EMBEDDING_PRICES))
        rows = []
        for key in self.openai_keys:
            if hour < key.created_at or key.project_id != self.projects[1].id:
                continue
            activity = self.activity(("embeddings", key.id), hour)
            requests = round(key.requests_per_hour * activity / 2)
            if requests:
                size = 0.6 + 0.8 * self.noise("oa-embed-size", key.id, hour)
                rows.append(
                    OpenAIEmbeddingUsage(
                        project_id=key.project_id,
                        user_id=key.owner.id if key.owner.type == "user" else None,
                        api_key_id=key.id,
                        model=model,
                        input_tokens=int(requests * 800 * size),
                        requests=requests,
                    )
                )
        return rows

    def anthropic_usage(self, hour: int) -> list[AnthropicUsage]:
        rows = []
        for key in self.anthropic_keys:
            if hour < key.created_at:
                continue
            for model in key.models:
                requests = round(key.requests_per_hour * self.activity(key.id, hour))
                batched = round(requests * key.batch_share)
                for tier, count in (
                    ("standard", requests - batched),
                    ("batch", batched),
                ):
                    if count:
                        rows.append(self._anthropic_row(key, model, tier, count, hour))
        workbench = round(3 * self.activity("workbench", hour))
        if workbench:
            rows.append(
                self._anthropic_row(
                    None, "claude-sonnet-4-5", "standard", workbench, hour
                )
            )
        return rows

    def _anthropic_row(self, key, model, tier, requests, hour) -> AnthropicUsage:
        key_id = key.id if key else None
        size = 0.6 + 0.8 * self.noise("an-size", key_id, model, hour)
        input_tokens = int(requests * 2000 * size)
        cached_share = key.cached_share if key else 0.0
        cache_read = int(input_tokens * cached_share)
        write_5m = int(input_tokens * 0.04) if cache_read else 0
        write_1h = int(input_tokens * 0.01) if cache_read else 0
        return AnthropicUsage(
            api_key_id=key_id,
            workspace_id=key.workspace_id if key else None,
            model=model,
            service_tier=tier,
            uncached=input_tokens - cache_read - write_5m - write_1h,
            cache_write_5m=write_5m,
            cache_write_1h=write_1h,
            cache_read=cache_read,
            output=int(requests * 500 * size),
            web_searches=requests // 20,
        )
