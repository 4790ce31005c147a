"""Read a spend report's period, group-by and filters from a request's query string.

The browser's explorer and the API take the same parameters, so a bookmarked view
and a script's call name the same figures.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.spend.report import FILTERS, GROUPS, ID_FILTERS, SpendFilters

# Three years of daily rows is still one index range; a typo like 2206 is not.
MAX_DAYS = 1100


@dataclass(frozen=True)
class SpendQuery:
    start: date
    end: date
    group_by: str
    filters: SpendFilters

    def params(self, **changes) -> list[tuple[str, str]]:
        """The query string's pairs for this view, with ``changes`` applied."""
        values = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "group_by": self.group_by,
        } | changes
        pairs = [(name, value) for name, value in values.items() if value]
        return pairs + [(name, str(value)) for name, value in self.filters.items()]


def today() -> date:
    return timezone.now().date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def parse_spend_query(params, default_group: str = "team") -> SpendQuery:
    """A SpendQuery from a QueryDict; raises ValidationError naming what is wrong.

    Defaults: this month so far (start on the 1st, end tomorrow) grouped by team.
    Filters take ids (teams, projects, environments, keys) or names (vendors,
    models), repeated or comma-separated.
    """
    errors = {}
    start = _date(params, "start", month_start(today()), errors)
    end = _date(params, "end", today() + timedelta(days=1), errors)
    if start and end and not errors:
        if end <= start:
            errors["end"] = "end must be after start (end is exclusive)."
        elif (end - start).days > MAX_DAYS:
            errors["end"] = f"choose a period of at most {MAX_DAYS} days."
    group_by = params.get("group_by") or default_group
    if group_by not in GROUPS:
        errors["group_by"] = f"group_by must be one of {', '.join(GROUPS)}."
    chosen = {}
    for name in FILTERS:
        values = [
            part.strip()
            for value in params.getlist(name)
            for part in value.split(",")
            if part.strip()
        ]
        if name in ID_FILTERS:
            bad = [value for value in values if not value.isdigit()]
            if bad:
                errors[name] = f"{name} takes ids, not {bad[0]!r}."
                continue
            values = [int(value) for value in values]
        chosen[name] = tuple(dict.fromkeys(values))
    if errors:
        raise ValidationError(errors)
    return SpendQuery(start, end, group_by, SpendFilters(**chosen))


def _date(params, name: str, default: date, errors: dict) -> date | None:
    value = params.get(name)
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = f"{name} must be a date as YYYY-MM-DD, not {value!r}."
        return None
