"""Spend pages of one team, project or key; the caching and reconciliation pages."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse

from apps.accounts.services import visible_teams
from apps.connectors.services import visible_connections
from apps.projects.models import Project
from apps.projects.services import visible_projects
from apps.spend import scopes
from apps.spend.charts import stacked_chart
from apps.spend.query import SpendQuery, parse_spend_query, today
from apps.spend.report import SpendFilters, spend_report
from apps.vault.services import visible_keys
from console.htmx import render_page

TEAM_GROUPS = ("project", "environment", "key", "model")
PROJECT_GROUPS = ("environment", "key", "model")
PERIOD_DAYS = 30
PERIOD_FIELDS = (("start", "Start", "date"), ("end", "End (exclusive)", "date"))
TARGET_FIELD = ("target", "Target cache-read share (%)", "text")


@login_required
def team(request, pk):
    team = get_object_or_404(visible_teams(request.user), pk=pk)
    filters = SpendFilters(team=(team.pk,))
    spend = scopes.scope_spend(request.user, filters, TEAM_GROUPS)
    context = _scope_context(spend, filters) | {"team": team}
    # Projects that spent nothing this month are listed too, at zero.
    projects = Project.objects.filter(team=team, archived_at=None)
    report = spend.reports["project"]
    context["shares"]["project"] = [
        (row, report.share(row))
        for row in scopes.with_idle(report.rows, projects, "project")
    ]
    return render_page(request, "spend/team.html", context)


@login_required
def project(request, pk):
    project = get_object_or_404(visible_projects(request.user), pk=pk)
    filters = SpendFilters(project=(project.pk,))
    spend = scopes.scope_spend(request.user, filters, PROJECT_GROUPS)
    spent = {row.group_id: row for row in spend.reports["environment"].rows}
    environments = [
        (
            environment,
            spent.get(environment.pk),
            _explorer_url(
                spend.first,
                spend.tomorrow,
                "key",
                SpendFilters(environment=(environment.pk,)),
            ),
        )
        for environment in project.environments.filter(archived_at=None)
    ]
    context = _scope_context(spend, filters) | {
        "project": project,
        "environments": environments,
    }
    return render_page(request, "spend/project.html", context)


@login_required
def key(request, pk):
    key = get_object_or_404(visible_keys(request.user), pk=pk)
    usage = scopes.key_usage(key, request.user)
    filters = SpendFilters(key=(key.pk,))
    report = spend_report(request.user, usage.start, usage.tomorrow, "model", filters)
    context = {
        "key": key,
        "usage": usage,
        "report": report,
        "chart": stacked_chart(request.user, report),
        "explorer_url": _explorer_url(usage.start, usage.tomorrow, "day", filters),
    }
    return render_page(request, "spend/key.html", context)


@login_required
def caching(request):
    query, errors = _period_query(request.GET)
    try:
        target = scopes.parse_target(request.GET.get("target"))
    except ValueError as exc:
        errors["target"] = [str(exc)]
    fields = (*PERIOD_FIELDS, TARGET_FIELD)
    context = _form_context(request.GET, query, fields, errors)
    if not errors:
        context["report"] = scopes.caching_report(
            request.user, query.start, query.end, target, query.filters
        )
    return render_page(request, "spend/caching.html", context, partial="results")


@login_required
def reconciliation(request):
    # Only admins and finance may see connections: anyone else gets a 403 here.
    connections = visible_connections(request.user)
    query, errors = _period_query(request.GET)
    context = _form_context(request.GET, query, PERIOD_FIELDS, errors)
    if not errors:
        context |= {
            "query": query,
            "connections": scopes.reconciliation(connections, query.start, query.end),
        }
    return render_page(request, "spend/reconciliation.html", context, partial="results")


def _scope_context(spend, filters: SpendFilters) -> dict:
    links = {
        group: _explorer_url(spend.first, spend.tomorrow, group, filters)
        for group in ("project", "environment", "key", "model", "day")
    }
    shares = {
        group: [(row, report.share(row)) for row in report.rows]
        for group, report in spend.reports.items()
    }
    return {
        "spend": spend,
        "reports": spend.reports,
        "shares": shares,
        "links": links,
    }


def _period_query(params) -> tuple[SpendQuery | None, dict]:
    """The period asked for, the last 30 days by default, and any errors."""
    if not params.get("start"):
        params = params.copy()
        params["start"] = (today() - timedelta(days=PERIOD_DAYS - 1)).isoformat()
    try:
        return parse_spend_query(params), {}
    except ValidationError as exc:
        return None, exc.message_dict


def _form_context(params, query: SpendQuery | None, fields, errors: dict) -> dict:
    """The form's inputs as (name, label, type, value, errors), and other errors.

    A value is what the user typed, else the period in effect, so a mistake can be
    corrected rather than retyped.
    """
    shown = {
        "start": query.start.isoformat() if query else "",
        "end": query.end.isoformat() if query else "",
    }
    names = {name for name, _, _ in fields}
    return {
        "fields": [
            (name, label, kind, params.get(name) or shown.get(name), errors.get(name))
            for name, label, kind in fields
        ],
        "errors": errors,
        "other_errors": [
            message
            for name, messages in errors.items()
            if name not in names
            for message in messages
        ],
    }


def _explorer_url(start, end, group_by: str, filters: SpendFilters) -> str:
    query = SpendQuery(start, end, group_by, filters)
    return f"{reverse('spend-explorer')}?{urlencode(query.params())}"
