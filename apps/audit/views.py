import json
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q

from apps.accounts.services import require_admin
from apps.audit.forms import AuditFilterForm
from apps.audit.models import AuditEvent
from console.htmx import render_page

PAGE_SIZE = 50
SYSTEM_ACTOR = "system"


@login_required
def audit_list(request):
    require_admin(request.user)
    filters = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.order_by("-id")
    if filters.is_bound and not filters.is_valid():
        events = events.none()  # the panel says which filter to correct
    elif filters.is_bound:
        events = _apply_filters(events, filters.cleaned_data)

    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(event, _detail_items(event.details)) for event in page]
    ctx = {"page": page, "rows": rows, "filters": filters}

    return render_page(request, "audit/audit_list.html", ctx, partial="audit-panel")


def _detail_items(details) -> list[tuple[str, str]]:
    """Flatten an event's details into short (name, value) pairs for one table cell.

    A ``changes`` entry, as services record it, becomes one "old → new" pair per field.
    """
    if not isinstance(details, dict):
        return [("", _as_text(details))]
    items = []
    for name, value in details.items():
        if name == "changes" and isinstance(value, dict):
            items += [(field, _as_change(pair)) for field, pair in value.items()]
        else:
            items.append((name, _as_text(value)))
    return items


def _apply_filters(events, data):
    if data["actor"]:
        match = Q(actor_name__iexact=data["actor"])
        if data["actor"].lower() == SYSTEM_ACTOR:
            match |= Q(actor_name="")
        events = events.filter(match)
    if data["action"]:
        events = events.filter(action__startswith=data["action"])
    if data["target_type"]:
        events = events.filter(target_type=data["target_type"])
    if data["date_from"]:
        events = events.filter(at__gte=_midnight(data["date_from"]))
    if data["date_to"]:
        events = events.filter(at__lt=_midnight(data["date_to"] + timedelta(days=1)))
    if data["ip"]:
        events = events.filter(ip=data["ip"])
    return events


def _midnight(day: date) -> datetime:
    # A range on the indexed column itself; at__date would compute a date per row.
    return datetime.combine(day, time.min, tzinfo=UTC)


def _as_change(pair) -> str:
    if isinstance(pair, list) and len(pair) == 2:
        return f"{_as_text(pair[0])} → {_as_text(pair[1])}"
    return _as_text(pair)


def _as_text(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
