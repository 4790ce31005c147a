"""Gemini and Vertex AI spend from a Google Cloud Billing export.

Google publishes no usage or cost per API key: Gemini is billed per Cloud project
through Cloud Billing. An admin exports the standard usage cost table (BigQuery's
``gcp_billing_export_v1_<account>``) as CSV and uploads it here; its Gemini lines
become derived DailySpend rows per project, model and day. Keys are attributed by
project: Keyhold's convention is one Google key per Cloud project, registered with
the project id as its vendor key id.
"""

import csv
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.services import require_admin
from apps.audit.services import Actor, record
from apps.catalog.names import normalize_model_name
from apps.connectors.models import Connection
from apps.usage import rollups
from apps.usage.attribution import key_ids_by_vendor_key_id
from apps.usage.models import DailySpend
from apps.vault.models import Vendor

logger = logging.getLogger(__name__)

# Services whose lines are model usage; the rest of the account's bill is not ours.
AI_SERVICES = {"gemini api", "generative language api", "vertex ai"}
REQUIRED = (
    "usage_start_time",
    "service_description",
    "sku_description",
    "project_id",
    "cost",
    "currency",
)
OPTIONAL = (
    "currency_conversion_rate",
    "usage_amount",
    "usage_unit",
    "credits",
    "cost_type",
)
# How BigQuery names the nested fields, for messages about a missing column.
DOTTED = {
    "service_description": "service.description",
    "sku_description": "sku.description",
    "project_id": "project.id",
}
# Taxes depend on who pays and where; no other vendor's figures include them.
SKIPPED_COST_TYPES = {"tax"}
MONEY_STEP = Decimal("1e-10")
MAX_ERRORS = 5

# Words that start a model's name in a SKU description, wherever they stand.
MODEL_FAMILIES = {"gemini", "gemma", "imagen", "veo"}
# Words that say what a SKU bills rather than which model: the name ends there.
BILLED_WORDS = {
    "-",
    "input",
    "output",
    "cached",
    "cache",
    "caching",
    "text",
    "audio",
    "image",
    "images",
    "video",
    "token",
    "tokens",
    "count",
    "character",
    "characters",
    "prediction",
    "predictions",
    "storage",
    "grounding",
    "batch",
    "long",
    "short",
    "thinking",
    "request",
    "requests",
    "for",
    "with",
    "per",
}
CREDIT_AMOUNT = re.compile(r"""["']?amount["']?\s*:\s*["']?(-?[0-9.eE+-]+)""")


@dataclass
class SpendGroup:
    """The export's lines of one day, project and model, added up."""

    amount: Decimal = Decimal(0)
    cost_usd: Decimal | None = Decimal(0)
    tokens: dict[str, int] = field(
        default_factory=lambda: {"uncached_input": 0, "cache_read": 0, "output": 0}
    )


class ExportErrors:
    """Problems found so far, each naming its line and column and the fix."""

    def __init__(self):
        self.messages: list[str] = []

    def add(self, line: int, column: str, problem: str) -> None:
        self.messages.append(f"Line {line}, column {column}: {problem}.")
        if len(self.messages) >= MAX_ERRORS:
            raise self.error()

    def error(self) -> ValidationError:
        more = " Fix these lines and upload the export again; nothing was imported."
        return ValidationError([*self.messages[:-1], self.messages[-1] + more])


def import_billing_export(actor: Actor, connection: Connection, fileobj) -> dict:
    """Replace the connection's Gemini spend for the days and projects an export covers.

    All or nothing: any bad line refuses the whole file, naming line and column.
    Re-importing an export replaces its (day, project) rows and never doubles them.
    """
    require_admin(actor.user)
    if connection.vendor != Vendor.GOOGLE:
        raise ValidationError(
            f"{connection.name} is a {connection.get_vendor_display()} connection: "
            "billing exports are imported into a Google connection."
        )
    groups, currency, skipped = read_export(fileobj)
    key_ids = key_ids_by_vendor_key_id(Vendor.GOOGLE)
    rows = [
        _row(connection, day, project, model, group, currency, key_ids)
        for (day, project, model), group in sorted(groups.items())
    ]
    covered = defaultdict(set)
    for row in rows:
        covered[row.day].add(row.vendor_project_id)

    with transaction.atomic():
        for day, projects in covered.items():
            DailySpend.objects.filter(
                connection=connection,
                derived=True,
                day=day,
                vendor_project_id__in=projects,
            ).delete()
        DailySpend.objects.bulk_create(rows)
        rollups.refresh_summaries(connection, covered)
        summary = _summary(rows, covered, currency, skipped)
        record(
            actor,
            "billing_export.imported",
            connection,
            rows=summary["rows"],
            days=summary["days"],
            first_day=summary["first_day"],
            last_day=summary["last_day"],
            cost_usd=summary["cost_usd"],
        )
    logger.info(
        "billing export for connection %s: %d rows over %d days",
        connection.pk,
        summary["rows"],
        summary["days"],
    )
    return summary


def read_export(fileobj) -> tuple[dict[tuple, SpendGroup], str, int]:
    """Parse and check the whole export; return its groups, currency and skips."""
    reader = csv.reader(_text_lines(fileobj))
    columns = _columns(next(reader, None))
    errors = ExportErrors()
    groups: dict[tuple, SpendGroup] = defaultdict(SpendGroup)
    currency, currency_line, skipped = "", 0, 0
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        cells = {name: _cell(values, index) for name, index in columns.items()}
        service = cells["service_description"].strip().lower()
        if service not in AI_SERVICES or (
            cells.get("cost_type", "").strip().lower() in SKIPPED_COST_TYPES
        ):
            skipped += 1
            continue
        parsed = _parse_line(cells, line, columns, errors)
        if parsed is None:
            continue
        if currency and parsed.currency != currency:
            errors.add(
                line,
                columns.header("currency"),
                f"{parsed.currency} differs from {currency} on line {currency_line}: "
                "export one billing account per file",
            )
            continue
        currency, currency_line = parsed.currency, currency_line or line
        parsed.add_to(groups)
    if errors.messages:
        raise errors.error()
    if not groups:
        raise ValidationError(
            "The export holds no Gemini API, Generative Language API or Vertex AI "
            "costs: check that it is the billing account that pays for Gemini."
        )
    return groups, currency, skipped


def model_from_sku(description: str) -> str:
    """The catalog name of the model a SKU bills, or "" when it names none.

    1. The name starts at the first word of a model family (Gemini, Gemma,
       Imagen, Veo), or at the first word when none appears.
    2. It ends before the first word that says what is billed (input, output,
       cached, text, token, a dash, ...).
    3. Its words are lower-cased, joined with hyphens, and normalized like every
       other model name: "Gemini 2.5 Flash Input token count" -> gemini-2.5-flash.

    A model whose own name holds such a word (an "Image" model) reads as its base
    model.
    """
    words = description.lower().split()
    start = next((i for i, word in enumerate(words) if word in MODEL_FAMILIES), 0)
    name = []
    for word in words[start:]:
        if word in BILLED_WORDS or word.startswith("("):
            break
        name.append(word)
    return normalize_model_name("-".join(name)) if name else ""


@dataclass
class ExportLine:
    day: date
    project: str
    model: str
    currency: str
    net: Decimal
    cost_usd: Decimal | None
    token_kind: str
    tokens: int

    def add_to(self, groups: dict[tuple, SpendGroup]) -> None:
        group = groups[(self.day, self.project, self.model)]
        group.amount += self.net
        if group.cost_usd is not None and self.cost_usd is not None:
            group.cost_usd += self.cost_usd
        else:
            group.cost_usd = None
        if self.token_kind:
            group.tokens[self.token_kind] += self.tokens


class Columns(dict):
    """Canonical column name -> index, remembering each header as the file wrote it."""

    def __init__(self):
        super().__init__()
        self.headers: dict[str, str] = {}

    def header(self, name: str) -> str:
        return self.headers.get(name, name)


def _columns(header: list[str] | None) -> Columns:
    if not header:
        raise ValidationError(
            "The file is empty: upload the billing export as CSV with its header row."
        )
    columns = Columns()
    for index, title in enumerate(header):
        name = title.strip().lstrip("\ufeff").lower().replace(".", "_")
        if name in REQUIRED or name in OPTIONAL:
            columns.setdefault(name, index)
            columns.headers.setdefault(name, title.strip().lstrip("\ufeff"))
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        dotted = ", ".join(DOTTED.get(name, name) for name in missing)
        raise ValidationError(
            f"Line 1: the export has no column {dotted}. Export the standard usage "
            "cost table with its header row (dotted or underscored names both work)."
        )
    return columns


def _parse_line(cells, line, columns, errors) -> ExportLine | None:
    before = len(errors.messages)

    def number(name, *, required=True):
        text = cells.get(name, "").strip()
        if not text and not required:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            shown = repr(text) if text else "empty"
            errors.add(
                line,
                columns.header(name),
                f"{shown} is not a number: write it with a dot for decimals, "
                "e.g. 12.34",
            )
        return value

    moment = _moment(cells["usage_start_time"])
    if moment is None:
        errors.add(
            line,
            columns.header("usage_start_time"),
            f"{cells['usage_start_time'].strip()!r} is not a date and time: use the "
            "export's format, e.g. 2025-11-01 07:00:00 UTC",
        )
    cost = number("cost")
    credits = _credits(cells.get("credits", ""), line, columns, errors)
    rate = number("currency_conversion_rate", required=False)
    if rate is not None and rate <= 0:
        errors.add(
            line,
            columns.header("currency_conversion_rate"),
            "the rate must be above zero (local currency units per US dollar)",
        )
    currency = cells["currency"].strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        errors.add(
            line,
            columns.header("currency"),
            f"{currency or 'empty'} is not a currency code: use ISO 4217, e.g. USD",
        )
    token_kind, tokens = _tokens(cells, number)
    if len(errors.messages) > before:
        return None

    net = cost + credits
    return ExportLine(
        day=moment.date(),
        project=cells["project_id"].strip(),
        model=model_from_sku(cells["sku_description"]),
        currency=currency,
        net=net,
        cost_usd=_usd(net, currency, rate),
        token_kind=token_kind,
        tokens=tokens,
    )


def _moment(text: str) -> datetime | None:
    """A timestamp as BigQuery writes it ("... UTC") or in ISO 8601, in UTC."""
    text = text.strip().removesuffix(" UTC")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _credits(text: str, line, columns, errors) -> Decimal:
    """Credits as one number, or BigQuery's list of credit records summed."""
    text = text.strip()
    if not text or text == "[]":
        return Decimal(0)
    if text.startswith("["):
        amounts = CREDIT_AMOUNT.findall(text)
        try:
            if amounts:
                return sum((Decimal(amount) for amount in amounts), Decimal(0))
        except InvalidOperation:
            pass
    else:
        try:
            return Decimal(text)
        except InvalidOperation:
            pass
    errors.add(
        line,
        columns.header("credits"),
        f"{text[:60]!r} is neither a number nor a list of credits with amounts",
    )
    return Decimal(0)


def _tokens(cells, number) -> tuple[str, int]:
    """Which token count a line reports, if its unit is tokens, and how many."""
    unit = cells.get("usage_unit", "").strip().lower()
    if unit not in ("token", "tokens"):
        return "", 0
    sku = set(cells["sku_description"].lower().split())
    if sku & {"cached", "cache"}:
        kind = "cache_read"
    elif "input" in sku:
        kind = "uncached_input"
    elif "output" in sku:
        kind = "output"
    else:
        return "", 0
    amount = number("usage_amount")
    return kind, int(amount) if amount is not None and amount.is_finite() else 0


def _usd(net: Decimal, currency: str, rate: Decimal | None) -> Decimal | None:
    """``net`` in USD: Google's rate is local currency units per US dollar."""
    if currency == "USD":
        return net
    if rate is None:
        return None
    return (net / rate).quantize(MONEY_STEP)


def _row(connection, day, project, model, group, currency, key_ids) -> DailySpend:
    return DailySpend(
        day=day,
        connection=connection,
        vendor=Vendor.GOOGLE,
        # The project id stands in for the key id, so keys registered later for
        # a project are picked up by the same reattribution as any other usage.
        vendor_key_id=project,
        vendor_project_id=project,
        key_id=key_ids.get(project),
        model=model,
        derived=True,
        cost_usd=group.cost_usd,
        amount=group.amount,
        currency=currency,
        **group.tokens,
    )


def _summary(rows, covered, currency, skipped) -> dict:
    costs = [row.cost_usd for row in rows]
    return {
        "rows": len(rows),
        "days": len(covered),
        "projects": len({row.vendor_project_id for row in rows}),
        "first_day": min(covered).isoformat(),
        "last_day": max(covered).isoformat(),
        "currency": currency,
        "amount": str(sum((row.amount for row in rows), Decimal(0))),
        "cost_usd": None if None in costs else str(sum(costs, Decimal(0))),
        "skipped_lines": skipped,
    }


def _text_lines(fileobj):
    """The upload's lines as text; a file that is not UTF-8 is refused."""
    for number, line in enumerate(fileobj, start=1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError(
                    f"Line {number}: the file is not UTF-8 text: upload the CSV as "
                    "BigQuery or the Cloud console exports it."
                ) from None
        yield line


def _cell(values: list[str], index: int) -> str:
    return values[index] if index < len(values) else ""
