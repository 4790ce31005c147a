from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.services import require_admin
from apps.audit.services import Actor
from apps.connectors import services
from apps.connectors.forms import ConnectionForm
from apps.connectors.models import ConnectionStatus
from apps.connectors.vendors import CONNECTORS
from apps.usage import services as usage
from apps.usage.reconciliation import reconcile

RECONCILIATION_DAYS = 14


@login_required
def connection_list(request):
    connections = services.visible_connections(request.user)
    ctx = {"connections": connections}
    return render(request, "connectors/connection_list.html", ctx)


@login_required
def connection_detail(request, pk):
    connection = _get_connection(request, pk)
    today = timezone.now().date()
    ctx = {
        "connection": connection,
        "connector": CONNECTORS.get(connection.vendor),
        "runs": usage.sync_history(connection),
        "inventory": usage.inventory_summary(connection),
        "reconciliation": reconcile(
            connection,
            today - timedelta(days=RECONCILIATION_DAYS - 1),
            today + timedelta(days=1),
        ),
    }
    return render(request, "connectors/connection_detail.html", ctx)


@login_required
@require_POST
def connection_sync(request, pk):
    connection = _get_connection(request, pk)
    usage.request_sync(Actor.from_request(request), connection)
    messages.success(
        request,
        f"Sync of {connection.name} queued: the history below shows it when it ends.",
    )
    return redirect("connection-detail", pk=connection.pk)


@login_required
def connection_create(request):
    require_admin(request.user)
    form = ConnectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        connection = _save(
            form, services.create_connection, Actor.from_request(request)
        )
        if connection:
            messages.success(request, f"Connection {connection.name} added.")
            return redirect("connection-list")
    ctx = {"form": form, "connection": None}
    return render(request, "connectors/connection_form.html", ctx)


@login_required
def connection_edit(request, pk):
    connection = _get_connection(request, pk)
    require_admin(request.user)
    form = ConnectionForm(request.POST or None, instance=connection)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        saved = _save(form, services.update_connection, actor, connection)
        if saved:
            messages.success(request, f"Connection {saved.name} saved.")
            return redirect("connection-list")
    if form.is_bound:
        connection.refresh_from_db()  # validation copied the rejected values onto it
    ctx = {"form": form, "connection": connection}
    return render(request, "connectors/connection_form.html", ctx)


@login_required
@require_POST
def connection_test(request, pk):
    connection = _get_connection(request, pk)
    result = services.test_connection(Actor.from_request(request), connection)
    if request.htmx:
        ctx = {"connection": connection, "result": result}
        return render(request, "connectors/connection_list.html#connection-row", ctx)
    if connection.status == ConnectionStatus.OK:
        messages.success(request, f"{connection.name}: ok, {result}.")
    else:
        messages.error(request, f"{connection.name}: {result}.")
    return redirect("connection-list")


@login_required
@require_POST
def connection_delete(request, pk):
    connection = _get_connection(request, pk)
    services.delete_connection(Actor.from_request(request), connection)
    messages.success(request, f"Connection {connection.name} deleted.")
    return redirect("connection-list")


def _save(form, save, *args):
    """Call the service with the form's data; service refusals become form errors."""
    try:
        return save(*args, **form.cleaned_data)
    except ValidationError as exc:
        form.add_error(None, exc)
        return None


def _get_connection(request, pk):
    return get_object_or_404(services.visible_connections(request.user), pk=pk)
