"""Normalize the model names vendors, gateways and usage reports spell differently."""

import re

# Gateways and SDKs put the vendor in front: "openai/gpt-4o", "models/gemini-2.5-pro".
PROVIDER_PREFIX = re.compile(r"^(?:[a-z0-9_.-]+/)+")
# Routes and regions after the name: "gpt-4o:us-east", "claude-sonnet-4-5@us-east-1".
ROUTE_SUFFIX = re.compile(r"[:@].*$")
# Dated snapshots: -20250929, -2024-08-06, -0613 (OpenAI's month-day), -001 (Google).
SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2}|\d{4}|\d{3})$")
LATEST_SUFFIX = re.compile(r"-latest$")

# Names that are the same model as another one, after the rules above.
ALIASES = {
    "claude-sonnet-4": "claude-sonnet-4-0",
    "claude-opus-4": "claude-opus-4-0",
    "claude-4-sonnet": "claude-sonnet-4-0",
    "claude-4-opus": "claude-opus-4-0",
    "chatgpt-4o": "gpt-4o",
}


def normalize_model_name(name: str) -> str:
    """Return the one name a model is known by in the catalog.

    1. Lower-case and trim it.
    2. Drop provider prefixes and route or region suffixes.
    3. Drop a dated snapshot or "-latest" suffix.
    4. Map a known alias to its canonical name.
    """
    name = name.strip().lower()
    name = ROUTE_SUFFIX.sub("", PROVIDER_PREFIX.sub("", name))
    name = LATEST_SUFFIX.sub("", SNAPSHOT_SUFFIX.sub("", name))
    return ALIASES.get(name, name)
