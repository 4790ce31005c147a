"""Spend grouped and filtered the way finance asks for it, read from the rollup.

Every figure comes from a rollup, never from raw buckets, and from the smallest
one that can answer: views that neither group nor filter by key read ``ScopeSpend``
(per day, environment and model); views by key read ``MonthlySpend`` for the whole
months of their period and ``DailySpend`` (per day, key and model) for the days
around them. A group-by is an aggregate query per rollup plus one for the groups'
display names.
"""

import operator
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from functools import reduce

from django.db.models import Case, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts.models import Team
from apps.catalog.names import normalize_model_name
from apps.projects.models import Environment, Project
from apps.usage.models import DailySpend, MonthlySpend, ScopeSpend
from apps.vault.models import Vendor

GROUPS = ("team", "project", "environment", "vendor", "model", "key", "day")
ID_FILTERS = ("team", "project", "environment", "key")
NAME_FILTERS = ("vendor", "model")
FILTERS = ID_FILTERS + NAME_FILTERS
UNATTRIBUTED = "unattributed"
# Derived spend (balance decreases) knows no model.
NO_MODEL = "derived"

# Where each group-by's value lives on a DailySpend row.
GROUP_COLUMN = {
    "team": "key__project__team_id",
    "project": "key__project_id",
    "environment": "key__environment_id",
    "vendor": "vendor",
    "model": "model",
    "key": "key_id",
    "day": "day",
}
FILTER_LOOKUP = {
    "team": "key__project__team_id__in",
    "project": "key__project_id__in",
    "environment": "key__environment_id__in",
    "key": "key_id__in",
    "vendor": "vendor__in",
    "model": "model__in",
}
# The same, on ScopeSpend rows, which know the environment but not the key.
SCOPE_GROUP_COLUMN = GROUP_COLUMN | {
    "team": "environment__project__team_id",
    "project": "environment__project_id",
    "environment": "environment_id",
}
SCOPE_FILTER_LOOKUP = {
    "team": "environment__project__team_id__in",
    "project": "environment__project_id__in",
    "environment": "environment_id__in",
    "vendor": "vendor__in",
    "model": "model__in",
}
SUMS = {
    "cost_usd": Coalesce(Sum("cost_usd"), Value(Decimal(0))),
    "unpriced": Coalesce(Sum("unpriced_tokens"), Value(0)),
    "input_tokens": Coalesce(Sum("uncached_input"), Value(0)),
    "cached_input_tokens": Coalesce(Sum("cache_read"), Value(0)),
    "cache_write_tokens": Coalesce(Sum("cache_write"), Value(0)),
    "output_tokens": Coalesce(Sum("output"), Value(0)),
    "requests": Coalesce(Sum("requests"), Value(0)),
}


@dataclass(frozen=True)
class SpendFilters:
    """Narrow a report: ids for teams, projects, environments and keys; names else."""

    team: tuple[int, ...] = ()
    project: tuple[int, ...] = ()
    environment: tuple[int, ...] = ()
    key: tuple[int, ...] = ()
    vendor: tuple[str, ...] = ()
    model: tuple[str, ...] = ()

    def __post_init__(self):
        # Model filters name catalog models, so an alias or a dated snapshot
        # selects the same rows as the name the reports show.
        normalized = tuple(dict.fromkeys(normalize_model_name(m) for m in self.model))
        object.__setattr__(self, "model", normalized)

    def apply(self, spend, lookups=FILTER_LOOKUP):
        for name in FILTERS:
            values = getattr(self, name)
            if values:
                spend = spend.filter(**{lookups[name]: values})
        return spend

    def items(self):
        """(name, value) pairs of what is set, for building links."""
        return [(name, value) for name in FILTERS for value in getattr(self, name)]

    def __bool__(self):
        return any(getattr(self, name) for name in FILTERS)


@dataclass
class SpendRow:
    group: str
    group_id: int | None
    cost_usd: Decimal = Decimal(0)
    unpriced: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    # Only for display: the key used in chart series and links ("key:12").
    slug: str = field(default="", compare=False)

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.cached_input_tokens
            + self.cache_write_tokens
            + self.output_tokens
        )

    def add(self, other: "SpendRow") -> None:
        for name in SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class SpendReport:
    start: date
    end: date
    group_by: str
    filters: SpendFilters
    rows: list[SpendRow]
    total: SpendRow

    def share(self, row: SpendRow) -> Decimal | None:
        """The row's part of the total cost, in percent."""
        if not self.total.cost_usd:
            return None
        return row.cost_usd * 100 / self.total.cost_usd


def visible_spend(user):
    """The rollup rows a user may read: everything for admins and finance.

    Engineers see their teams' keys only; usage on keys nobody registered belongs
    to no team, so it is theirs to see only through an admin or finance.
    """
    return _visible(DailySpend, user, "key__project__in")


def visible_monthly_spend(user):
    """``visible_spend`` on the monthly rollup."""
    return _visible(MonthlySpend, user, "key__project__in")


def visible_scope_spend(user):
    """``visible_spend`` on the per-environment rollup."""
    return _visible(ScopeSpend, user, "environment__project__in")


def _visible(rollup, user, projects_lookup: str):
    rows = rollup.objects.all()
    if not user.sees_everything:
        projects = Project.objects.filter(team__memberships__user=user)
        rows = rows.filter(**{projects_lookup: projects.values("pk")})
    return rows


@dataclass(frozen=True)
class Rollup:
    """Where a view's figures come from: querysets whose sums add up to the
    view's, and where each group-by lives on their rows."""

    parts: tuple
    group_column: dict

    @property
    def rows(self):
        """The one part of a rollup read day by day."""
        (rows,) = self.parts
        return rows


def rollup_for(
    user, group_by: str, filters: SpendFilters, start, end, *, by_day=False
) -> Rollup:
    """The smallest rollups that answer ``group_by`` under ``filters`` in
    [start, end); ``by_day`` when the caller needs each day's figures."""
    if group_by != "key" and not filters.key:
        rows = filters.apply(visible_scope_spend(user), SCOPE_FILTER_LOOKUP)
        return Rollup((rows.filter(day__gte=start, day__lt=end),), SCOPE_GROUP_COLUMN)
    daily = filters.apply(visible_spend(user))
    months = [] if by_day or group_by == "day" else whole_months(start, end)
    if not months:
        return Rollup((daily.filter(day__gte=start, day__lt=end),), GROUP_COLUMN)
    monthly = filters.apply(visible_monthly_spend(user)).filter(month__in=months)
    # Known cost: the days around the whole months are read per key and day, up to
    # a month of them for a period that starts mid-month (see BENCHMARKS.md); a
    # rollup per week would bound them to six days at each end.
    covered_from, covered_to = months[0], next_month(months[-1])
    edges = [(start, covered_from), (covered_to, end)]
    days = [Q(day__gte=first, day__lt=last) for first, last in edges if first < last]
    if not days:
        return Rollup((monthly,), GROUP_COLUMN)
    return Rollup((monthly, daily.filter(reduce(operator.or_, days))), GROUP_COLUMN)


def whole_months(start: date, end: date) -> list[date]:
    """The first days of the months whose usage lies wholly in [start, end).

    A month counts when the period covers it, or covers it up to today: no usage
    is dated after today (UTC), so this month to date is the whole month so far.
    """
    today = timezone.now().date()
    month = start if start.day == 1 else next_month(start)
    months = []
    while month < end:
        following = next_month(month)
        if following <= end or (month <= today < following and end > today):
            months.append(month)
        month = following
    return months


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def spend_report(
    user, start: date, end: date, group_by: str, filters: SpendFilters | None = None
) -> SpendReport:
    """Spend in [start, end) per group, most expensive first (days in order)."""
    if group_by not in GROUPS:
        raise ValueError(f"unknown group_by {group_by!r}")
    filters = filters or SpendFilters()
    rows = _grouped(rollup_for(user, group_by, filters, start, end), group_by)
    total = SpendRow(group="total", group_id=None)
    for row in rows:
        total.add(row)
    if group_by == "day":
        rows.sort(key=lambda row: row.group)
    else:
        rows.sort(key=lambda row: (-row.cost_usd, -row.total_tokens, row.group))
    return SpendReport(start, end, group_by, filters, rows, total)


def daily_costs(user, start: date, end: date, filters=None) -> dict[date, Decimal]:
    """Cost per day in [start, end); days with no spend are absent."""
    spend = rollup_for(user, "day", filters or SpendFilters(), start, end).rows
    return dict(
        spend.values("day")
        .annotate(cost=SUMS["cost_usd"])
        .values_list("day", "cost")
        .order_by()
    )


def spend_by_day(user, start: date, end: date, group_by: str, filters, groups):
    """Cost per day for each of ``groups`` (rows of a report), the rest as one.

    Returns (days, {slug: [cost per day]}, [other cost per day]) for a chart; the
    days are every date in [start, end), with zero where nothing was spent. Only
    the groups asked for are read per day; the rest is the day's total less them.
    """
    days = dates_between(start, end)
    position = {day: index for index, day in enumerate(days)}
    series = {row.slug: [Decimal(0)] * len(days) for row in groups}
    if groups:
        rollup = rollup_for(user, group_by, filters, start, end, by_day=True)
        group_values = _group_values(group_by, rollup.group_column)
        values = (
            _only(rollup, group_by, groups)
            .annotate(**group_values)
            .values("day", *group_values)
            .annotate(cost=SUMS["cost_usd"])
            .order_by()
        )
        for item in values:
            slug = _slug(group_by, item)
            if slug in series:
                series[slug][position[item["day"]]] += item["cost"]
    totals = daily_costs(user, start, end, filters)
    other = [
        totals.get(day, Decimal(0)) - sum(cost[index] for cost in series.values())
        for index, day in enumerate(days)
    ]
    return days, series, other


def _only(rollup: Rollup, group_by: str, groups):
    """The rollup's rows that belong to one of ``groups``."""
    column = rollup.group_column[group_by]
    wanted, unknown_keys, with_none = set(), set(), False
    for row in groups:
        value = row.slug.split(":", 1)[1]
        if group_by == "key" and row.group_id is None:
            vendor, vendor_key_id = value.split(":", 1)
            unknown_keys.add((vendor, vendor_key_id))
        elif group_by in ID_FILTERS:
            if value:
                wanted.add(int(value))
            else:
                with_none = True
        else:
            wanted.add(date.fromisoformat(value) if group_by == "day" else value)
    match = Q(**{f"{column}__in": wanted})
    if with_none:
        match |= Q(**{f"{column}__isnull": True})
    for vendor, vendor_key_id in unknown_keys:
        match |= Q(key=None, vendor=vendor, vendor_key_id=vendor_key_id)
    return rollup.rows.filter(match)


def _grouped(rollup: Rollup, group_by: str) -> list[SpendRow]:
    group_values = _group_values(group_by, rollup.group_column)
    groups = [
        item
        for part in rollup.parts
        for item in part.annotate(**group_values)
        .values(*group_values)
        .annotate(**SUMS)
        .order_by()
    ]
    names = _display_names(group_by, groups)
    rows = {}
    for item in groups:
        slug = _slug(group_by, item)
        row = SpendRow(
            group="",
            group_id=None,
            slug=slug,
            **{name: item[name] for name in SUMS},
        )
        if slug in rows:
            rows[slug].add(row)
        else:
            row.group, row.group_id = names(item)
            rows[slug] = row
    return list(rows.values())


def _group_values(group_by: str, column: dict) -> dict:
    """The annotations a group-by groups on, each named ``g_*``."""
    values = {"g_value": F(column[group_by])}
    if group_by == "key":
        # A vault key groups all its vendor ids (rotations); usage on an unknown
        # key groups by the vendor's id for it.
        values["g_vendor_key"] = Case(
            When(key__isnull=True, then=F("vendor_key_id")), default=Value("")
        )
        values["g_vendor"] = Case(
            When(key__isnull=True, then=F("vendor")), default=Value("")
        )
        # Named in the same query: an IN list of thousands of key ids costs more.
        values["g_name"] = F("key__name")
    return values


def _slug(group_by: str, item: dict) -> str:
    value = item["g_value"]
    if group_by == "key" and value is None:
        return f"key:{item['g_vendor']}:{item['g_vendor_key']}"
    return f"{group_by}:{'' if value is None else value}"


def _display_names(group_by: str, groups: list[dict]):
    """A function giving (group, group_id) for one aggregated item."""
    if group_by == "key":

        def named_key(item):
            if item["g_value"] is None:
                return item["g_vendor_key"] or UNATTRIBUTED, None
            return item["g_name"], item["g_value"]

        return named_key
    if group_by in ("team", "project", "environment"):
        ids = {item["g_value"] for item in groups if item["g_value"] is not None}
        names = _names_of(group_by, ids)

        def named(item):
            value = item["g_value"]
            if value is None:
                return UNATTRIBUTED, None
            return names.get(value, str(value)), value

        return named
    if group_by == "day":
        return lambda item: (item["g_value"].isoformat(), None)
    if group_by == "model":
        return lambda item: (item["g_value"] or NO_MODEL, None)
    return lambda item: (item["g_value"], None)


def _names_of(group_by: str, ids) -> dict:
    if not ids:
        return {}
    if group_by == "team":
        return dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))
    if group_by == "project":
        return dict(Project.objects.filter(pk__in=ids).values_list("pk", "name"))
    if group_by == "environment":
        return {
            pk: f"{project} / {kind}"
            for pk, project, kind in Environment.objects.filter(pk__in=ids).values_list(
                "pk", "project__name", "kind"
            )
        }
    raise ValueError(f"no names to look up for {group_by!r}")


def dates_between(start: date, end: date) -> list[date]:
    return [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal())]


def vendor_label(code: str) -> str:
    try:
        return Vendor(code).label
    except ValueError:
        return code


ROW_FIELDS = [f.name for f in fields(SpendRow) if f.name != "slug"]
UNATTRIBUTED_Q = Q(key__isnull=True)
