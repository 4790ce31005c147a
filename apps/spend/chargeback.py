"""Each month's vendor bills split between the teams whose keys ran up the cost.

A vendor's column adds up to what the vendor reported it billed: the teams get their
computed cost, and two explicit unallocated lines carry the rest, so finance can
charge every dollar back and still see what nobody owns.
"""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Sum, Value
from django.db.models.functions import Coalesce

from apps.accounts.models import Team
from apps.connectors.models import Connection
from apps.spend.query import month_start, today
from apps.spend.report import next_month, vendor_label
from apps.spend.serialize import money
from apps.usage.models import DailySpend, ReportedCost

CENT = Decimal("0.01")
TEAM, UNREGISTERED, GAP = "team", "unregistered", "gap"
LINE_NAMES = {
    UNREGISTERED: "Unallocated: usage on unregistered keys",
    GAP: "Unallocated: reported minus computed",
}
METHOD = (
    "Each vendor column adds up to what the vendor reported it billed for the "
    "month (its computed total where it reported nothing in USD): each team is "
    "charged the cost Keyhold computes from its keys' usage, and usage on keys "
    "nobody registered, including balance-derived spend, stays unallocated. "
    "The reported-minus-computed line carries the difference between the bill and "
    "the computed cost, and the rounding of each line to the cent."
)


def previous_month(day: date) -> date:
    """The 1st of the last complete month before ``day``."""
    return month_start(month_start(day) - timedelta(days=1))


def parse_month(value: str | None) -> date:
    """The 1st of the month ``value`` names (YYYY-MM); the previous month if blank.

    Raises ValueError with a message saying what to type.
    """
    if value is None or not value.strip():
        return previous_month(today())
    text = value.strip()
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(
            f"month must be a month as YYYY-MM, such as 2026-11; not {text!r}."
        ) from None


def check_can_see_chargeback(user) -> None:
    if not (user and user.is_authenticated and user.sees_everything):
        raise PermissionDenied(
            "The chargeback shows every team's spend: only admins and finance can "
            "see it."
        )


@dataclass
class ChargebackColumn:
    connection: Connection
    computed_usd: Decimal
    # None when the vendor reported no cost in USD for the month.
    reported_usd: Decimal | None
    total_usd: Decimal = Decimal(0)
    unpriced_tokens: int = 0
    # Figures that could not count: (source, currency, amount).
    not_counted: list[tuple[str, str, Decimal]] = field(default_factory=list)

    @property
    def vendor_name(self) -> str:
        return vendor_label(self.connection.vendor)


@dataclass
class ChargebackLine:
    kind: str
    name: str
    team_id: int | None
    amounts: list[Decimal]
    unpriced_tokens: int = 0

    @property
    def total_usd(self) -> Decimal:
        return sum(self.amounts, Decimal(0))


@dataclass
class Chargeback:
    month: date
    end: date
    columns: list[ChargebackColumn]
    lines: list[ChargebackLine]

    @property
    def totals(self) -> list[Decimal]:
        return [column.total_usd for column in self.columns]

    @property
    def total_usd(self) -> Decimal:
        return sum(self.totals, Decimal(0))

    @property
    def unpriced_tokens(self) -> int:
        return sum(line.unpriced_tokens for line in self.lines)


def monthly_chargeback(user, month: date) -> Chargeback:
    """The chargeback of the month starting on ``month``, in whole cents.

    1. Sum the month's computed cost and unpriced tokens per connection and team;
       usage on no vault key (derived spend included) belongs to no team.
    2. Round each team's and the unregistered cost to the cent.
    3. The column's total is the vendor's reported USD total, to the cent, or the
       sum of the rounded lines when it reported nothing; the gap line is the
       total minus the rounded lines, so every column adds up exactly.
    """
    check_can_see_chargeback(user)
    end = next_month(month)
    period = {"day__gte": month, "day__lt": end}
    computed, unpriced = _computed(period)
    reported, not_counted = _reported(period)
    ids = computed.keys() | reported.keys() | not_counted.keys()
    connections = Connection.objects.filter(pk__in=ids).order_by("name", "pk")
    columns = [
        ChargebackColumn(
            connection=connection,
            computed_usd=sum(computed[connection.pk].values(), Decimal(0)),
            reported_usd=reported.get(connection.pk),
            unpriced_tokens=sum(unpriced[connection.pk].values()),
            not_counted=not_counted[connection.pk],
        )
        for connection in connections
    ]
    lines = _lines(columns, computed, unpriced)
    return Chargeback(month, end, columns, lines)


def _computed(period: dict):
    """Cost and unpriced tokens as {connection id: {team id or None: figure}}."""
    costs = defaultdict(lambda: defaultdict(Decimal))
    unpriced = defaultdict(lambda: defaultdict(int))
    groups = (
        DailySpend.objects.filter(**period)
        .values("connection_id", "key__project__team_id")
        .annotate(
            cost=Coalesce(Sum("cost_usd"), Value(Decimal(0))),
            unpriced=Coalesce(Sum("unpriced_tokens"), Value(0)),
        )
        .order_by()
    )
    for item in groups:
        connection, team = item["connection_id"], item["key__project__team_id"]
        costs[connection][team] += item["cost"]
        unpriced[connection][team] += item["unpriced"]
    return costs, unpriced


def _reported(period: dict):
    """The vendors' USD totals per connection, and what is stated in no USD.

    Derived spend in a currency with no USD rate and cost reports in another
    currency cannot be added to a USD bill: they are listed beside the column.
    """
    reported = {}
    not_counted = defaultdict(list)
    lines = (
        ReportedCost.objects.filter(**period)
        .values("connection_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    for item in lines:
        if item["currency"] == "USD":
            reported[item["connection_id"]] = item["total"]
        else:
            not_counted[item["connection_id"]].append(
                ("reported", item["currency"], item["total"])
            )
    derived = (
        DailySpend.objects.filter(cost_usd=None, **period)
        .values("connection_id", "currency")
        .annotate(total=Coalesce(Sum("amount"), Value(Decimal(0))))
        .order_by("currency")
    )
    for item in derived:
        not_counted[item["connection_id"]].append(
            ("derived", item["currency"] or "mixed", item["total"])
        )
    return reported, not_counted


def _lines(columns, computed, unpriced) -> list[ChargebackLine]:
    team_ids = {
        team
        for column in columns
        for team in computed[column.connection.pk]
        if team is not None
    }
    teams = Team.objects.filter(pk__in=team_ids).order_by("name", "pk")
    lines = [ChargebackLine(TEAM, team.name, team.pk, []) for team in teams]
    unregistered = ChargebackLine(UNREGISTERED, LINE_NAMES[UNREGISTERED], None, [])
    gap = ChargebackLine(GAP, LINE_NAMES[GAP], None, [])
    for column in columns:
        costs = computed[column.connection.pk]
        tokens = unpriced[column.connection.pk]
        for line in lines:
            line.amounts.append(cents(costs.get(line.team_id, Decimal(0))))
            line.unpriced_tokens += tokens.get(line.team_id, 0)
        unregistered.amounts.append(cents(costs.get(None, Decimal(0))))
        unregistered.unpriced_tokens += tokens.get(None, 0)
        allocated = sum((line.amounts[-1] for line in lines), Decimal(0))
        allocated += unregistered.amounts[-1]
        if column.reported_usd is None:
            column.total_usd = allocated
        else:
            column.total_usd = cents(column.reported_usd)
        gap.amounts.append(column.total_usd - allocated)
    return [*lines, unregistered, gap]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def chargeback_json(chargeback: Chargeback) -> dict:
    """The chargeback as the API answers it; amounts follow the columns' order."""
    return {
        "month": f"{chargeback.month:%Y-%m}",
        "start": chargeback.month.isoformat(),
        "end": chargeback.end.isoformat(),
        "currency": "USD",
        "method": METHOD,
        "columns": [
            {
                "connection_id": column.connection.pk,
                "connection": column.connection.name,
                "vendor": column.connection.vendor,
                "vendor_name": column.vendor_name,
                "computed_usd": money(column.computed_usd),
                "reported_usd": money(column.reported_usd),
                "total_usd": str(column.total_usd),
                "unpriced_tokens": column.unpriced_tokens,
                "not_counted": [
                    {"source": source, "currency": currency, "amount": str(amount)}
                    for source, currency, amount in column.not_counted
                ],
            }
            for column in chargeback.columns
        ],
        "lines": [
            {
                "kind": line.kind,
                "team_id": line.team_id,
                "name": line.name,
                "amounts": [str(amount) for amount in line.amounts],
                "total_usd": str(line.total_usd),
                "unpriced_tokens": line.unpriced_tokens,
            }
            for line in chargeback.lines
        ],
        "totals": {
            "amounts": [str(amount) for amount in chargeback.totals],
            "total_usd": str(chargeback.total_usd),
            "unpriced_tokens": chargeback.unpriced_tokens,
        },
    }


def chargeback_csv(data: dict) -> str:
    """The JSON answer as a spreadsheet: a line per row, a column per connection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = [column["connection"] for column in data["columns"]]
    writer.writerow(["kind", "team_id", "name", *names, "total_usd", "unpriced"])
    for line in data["lines"]:
        writer.writerow(
            [
                line["kind"],
                "" if line["team_id"] is None else line["team_id"],
                line["name"],
                *line["amounts"],
                line["total_usd"],
                line["unpriced_tokens"],
            ]
        )
    totals = data["totals"]
    writer.writerow(
        [
            "total",
            "",
            "Total",
            *totals["amounts"],
            totals["total_usd"],
            totals["unpriced_tokens"],
        ]
    )
    return out.getvalue()
