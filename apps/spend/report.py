"""Spend grouped and filtered the way finance asks for it, read from the rollup.

Every figure comes from ``DailySpend``, never from raw buckets: a request costs the
same whatever the history's length. A group-by is one aggregate query plus one for
the group's display names.
"""

from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal

from django.db.models import Case, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from apps.accounts.models import Team
from apps.catalog.names import normalize_model_name
from apps.projects.models import Environment, Project
from apps.usage.models import DailySpend
from apps.vault.models import Vendor, VendorKey

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

    def apply(self, spend):
        for name in FILTERS:
            values = getattr(self, name)
            if values:
                spend = spend.filter(**{FILTER_LOOKUP[name]: values})
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
    spend = DailySpend.objects.all()
    if not user.sees_everything:
        projects = Project.objects.filter(team__memberships__user=user)
        spend = spend.filter(key__project__in=projects.values("pk"))
    return spend


def spend_report(
    user, start: date, end: date, group_by: str, filters: SpendFilters | None = None
) -> SpendReport:
    """Spend in [start, end) per group, most expensive first (days in order)."""
    if group_by not in GROUPS:
        raise ValueError(f"unknown group_by {group_by!r}")
    filters = filters or SpendFilters()
    spend = filters.apply(visible_spend(user)).filter(day__gte=start, day__lt=end)
    rows = _grouped(spend, group_by)
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
    spend = (filters or SpendFilters()).apply(visible_spend(user))
    return dict(
        spend.filter(day__gte=start, day__lt=end)
        .values("day")
        .annotate(cost=SUMS["cost_usd"])
        .values_list("day", "cost")
        .order_by()
    )


def spend_by_day(user, start: date, end: date, group_by: str, filters, groups):
    """Cost per day for each of ``groups`` (rows of a report), the rest as one.

    Returns (days, {slug: [cost per day]}, [other cost per day]) for a chart; the
    days are every date in [start, end), with zero where nothing was spent.
    """
    spend = filters.apply(visible_spend(user)).filter(day__gte=start, day__lt=end)
    days = dates_between(start, end)
    position = {day: index for index, day in enumerate(days)}
    wanted = {row.slug for row in groups}
    series = {slug: [Decimal(0)] * len(days) for slug in wanted}
    other = [Decimal(0)] * len(days)
    group_values = _group_values(group_by)
    values = (
        spend.annotate(**group_values)
        .values("day", *group_values)
        .annotate(cost=SUMS["cost_usd"])
        .order_by()
    )
    for item in values:
        slug = _slug(group_by, item)
        target = series.get(slug) if slug in wanted else other
        target[position[item["day"]]] += item["cost"]
    return days, series, other


def _grouped(spend, group_by: str) -> list[SpendRow]:
    group_values = _group_values(group_by)
    groups = (
        spend.annotate(**group_values).values(*group_values).annotate(**SUMS).order_by()
    )
    groups = list(groups)
    names = _display_names(group_by, groups)
    rows = []
    for item in groups:
        slug = _slug(group_by, item)
        group, group_id = names(item)
        rows.append(
            SpendRow(
                group=group,
                group_id=group_id,
                slug=slug,
                **{name: item[name] for name in SUMS},
            )
        )
    return rows


def _group_values(group_by: str) -> dict:
    """The annotations a group-by groups on, each named ``g_*``."""
    values = {"g_value": F(GROUP_COLUMN[group_by])}
    if group_by == "key":
        # A vault key groups all its vendor ids (rotations); usage on an unknown
        # key groups by the vendor's id for it.
        values["g_vendor_key"] = Case(
            When(key__isnull=True, then=F("vendor_key_id")), default=Value("")
        )
        values["g_vendor"] = Case(
            When(key__isnull=True, then=F("vendor")), default=Value("")
        )
    return values


def _slug(group_by: str, item: dict) -> str:
    value = item["g_value"]
    if group_by == "key" and value is None:
        return f"key:{item['g_vendor']}:{item['g_vendor_key']}"
    return f"{group_by}:{'' if value is None else value}"


def _display_names(group_by: str, groups: list[dict]):
    """A function giving (group, group_id) for one aggregated item."""
    ids = {item["g_value"] for item in groups if item["g_value"] is not None}
    if group_by in ("team", "project", "environment", "key"):
        names = _names_of(group_by, ids)

        def named(item):
            value = item["g_value"]
            if value is None:
                if group_by == "key" and item["g_vendor_key"]:
                    return item["g_vendor_key"], None
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
    return dict(VendorKey.objects.filter(pk__in=ids).values_list("pk", "name"))


def dates_between(start: date, end: date) -> list[date]:
    return [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal())]


def vendor_label(code: str) -> str:
    try:
        return Vendor(code).label
    except ValueError:
        return code


ROW_FIELDS = [f.name for f in fields(SpendRow) if f.name != "slug"]
UNATTRIBUTED_Q = Q(key__isnull=True)
