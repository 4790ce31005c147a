from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods

from apps.accounts.services import require_admin
from apps.audit.services import Actor
from apps.connectors.services import visible_connections
from apps.usage.forms import BillingExportForm
from apps.usage.google_billing import import_billing_export

TEMPLATE = "usage/billing_export.html"


@login_required
@require_http_methods(["GET", "POST"])
def billing_export(request, pk):
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    require_admin(request.user)
    if request.method != "POST":
        form = BillingExportForm()
        return render(request, TEMPLATE, {"connection": connection, "form": form})

    form = BillingExportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            summary = import_billing_export(
                Actor.from_request(request), connection, form.cleaned_data["file"]
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            messages.success(request, _imported(connection, summary))
            return redirect("connection-detail", pk=connection.pk)
    return render(request, TEMPLATE, {"connection": connection, "form": form})


def _imported(connection, summary) -> str:
    cost = (
        f"{summary['cost_usd']} USD"
        if summary["cost_usd"] is not None
        else f"{summary['amount']} {summary['currency']} (no USD rate in the export)"
    )
    rows, days = summary["rows"], summary["days"]
    return (
        f"{connection.name}: billing export imported, {rows} row{pluralize(rows)} "
        f"over {days} day{pluralize(days)} ({summary['first_day']} to "
        f"{summary['last_day']}), {cost}."
    )
