import logging

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.accounts.services import visible_teams
from apps.keyrequests.models import RequestState
from apps.keyrequests.services import visible_requests
from apps.projects.services import visible_projects
from apps.vault.services import visible_keys
from apps.vault.warnings import HORIZON_DAYS, keys_needing_attention
from console.celery import app as celery_app

logger = logging.getLogger(__name__)


@login_required
def home(request):
    projects = visible_projects(request.user).filter(archived_at=None)
    ctx = {
        "teams": visible_teams(request.user).filter(memberships__user=request.user),
        "project_count": projects.count(),
        "recent_projects": projects.order_by("-created_at")[:5],
        "key_warnings": keys_needing_attention(keys=visible_keys(request.user)),
        "horizon_days": HORIZON_DAYS,
    }
    if request.user.is_admin:
        pending = visible_requests(request.user).filter(state=RequestState.PENDING)
        ctx["pending_requests"] = pending.count()
    return render(request, "home.html", ctx)


@never_cache
@require_safe
def healthz(request):
    """Report whether the database and the broker answer; 503 names what is down."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks},
        status=200 if healthy else 503,
    )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        logger.warning("health check: database unreachable: %s", exc)
        return f"unreachable: {type(exc).__name__}"


def _check_broker() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        logger.warning("health check: broker unreachable: %s", exc)
        return f"unreachable: {type(exc).__name__}"
