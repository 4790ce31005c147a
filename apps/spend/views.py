from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.urls import reverse

from apps.accounts.services import visible_teams
from apps.connectors.services import visible_connections
from apps.projects.services import visible_environments, visible_projects
from apps.spend import forecast
from apps.spend.charts import daily_chart, stacked_chart
from apps.spend.forms import ExplorerForm
from apps.spend.query import SpendQuery, month_start, parse_spend_query, today
from apps.spend.report import SpendFilters, daily_costs, spend_report
from console.htmx import render_page

TOP = 5
# The explorer's table stops here (a page of 2,000 keys helps nobody); the rest are
# summed in one line, and the CSV and JSON hold every row.
TABLE_ROWS = 100


@login_required
def overview(request):
    user, now = request.user, today()
    first, tomorrow = month_start(now), now + timedelta(days=1)
    previous_first = month_start(first - timedelta(days=1))
    daily = daily_costs(
        user, min(previous_first, forecast.history_start(now)), tomorrow
    )
    # The same point last month: as many days into it as today is into this one.
    same_point = min(previous_first + (tomorrow - first), first)
    last_month = sum(
        (cost for day, cost in daily.items() if previous_first <= day < same_point),
        Decimal(0),
    )
    month = {
        group: spend_report(user, first, tomorrow, group)
        for group in ("team", "project", "model", "key")
    }
    total = month["team"].total
    unattributed = next((r for r in month["team"].rows if r.group_id is None), None)
    context = {
        "first": first,
        "today": now,
        "total": total,
        "last_month": last_month,
        "same_point": same_point,
        "forecast": forecast.forecast_month(daily, now),
        "top": {group: report.rows[:TOP] for group, report in month.items()},
        "unattributed": unattributed if user.sees_everything else None,
        "chart": daily_chart(daily, max(first - timedelta(days=30), previous_first)),
        "connections": (
            visible_connections(user).order_by("name") if user.sees_everything else []
        ),
        "tomorrow": tomorrow,
        "links": {
            group: _explorer_link(first, tomorrow, group)
            for group in ("team", "project", "model", "key")
        },
    }
    return render_page(request, "spend/overview.html", context)


@login_required
def explorer(request):
    user = request.user
    form = ExplorerForm(
        request.GET or None,
        teams=visible_teams(user),
        projects=visible_projects(user).filter(archived_at=None),
        environments=visible_environments(user).filter(archived_at=None),
        initial=_initial(parse_spend_query(QueryDict())),
    )
    try:
        query = parse_spend_query(request.GET)
    except ValidationError as exc:
        form.show_errors(exc.message_dict)
        query = None
    context = {"form": form, "query": query}
    if query is not None:
        report = spend_report(
            user, query.start, query.end, query.group_by, query.filters
        )
        shown, rest = report.rows[:TABLE_ROWS], report.rows[TABLE_ROWS:]
        context |= {
            "report": report,
            "rows": [(row, report.share(row)) for row in shown],
            "rest": _rest(rest),
            "chart": stacked_chart(user, report),
            "csv_url": _api_url(query, format="csv"),
            "json_url": _api_url(query),
        }
    return render_page(request, "spend/explorer.html", context, partial="results")


def _rest(rows) -> dict | None:
    if not rows:
        return None
    return {"count": len(rows), "cost_usd": sum((r.cost_usd for r in rows), Decimal(0))}


def _initial(query: SpendQuery) -> dict:
    return {"start": query.start, "end": query.end, "group_by": query.group_by}


def _api_url(query: SpendQuery, **extra) -> str:
    return f"{reverse('api:spend')}?{urlencode(query.params() + list(extra.items()))}"


def _explorer_link(start, end, group_by="team", **filters) -> str:
    query = SpendQuery(start, end, group_by, SpendFilters(**filters))
    return f"{reverse('spend-explorer')}?{urlencode(query.params())}"
