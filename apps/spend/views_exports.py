"""The monthly chargeback page and the FOCUS download."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import reverse

from apps.spend.chargeback import (
    METHOD,
    chargeback_csv,
    chargeback_json,
    check_can_see_chargeback,
    monthly_chargeback,
    parse_month,
)
from apps.spend.focus import focus_download
from console.htmx import render_page


@login_required
def chargeback(request):
    check_can_see_chargeback(request.user)
    typed = request.GET.get("month", "")
    try:
        month = parse_month(typed)
    except ValueError as exc:
        context = {"month_value": typed, "error": str(exc), "method": METHOD}
        return render_page(request, "spend/chargeback.html", context, "results")

    report = monthly_chargeback(request.user, month)
    if request.GET.get("format") == "csv":
        return _csv_download(report)
    query = urlencode({"month": f"{month:%Y-%m}"})
    context = {
        "month_value": typed or f"{month:%Y-%m}",
        "chargeback": report,
        "method": METHOD,
        "csv_url": f"{reverse('spend-chargeback')}?{query}&format=csv",
        "json_url": f"{reverse('api:chargeback')}?{query}",
        "focus_url": f"{reverse('spend-focus')}?{query}",
    }
    return render_page(request, "spend/chargeback.html", context, "results")


@login_required
def focus(request):
    typed = request.GET.get("month")
    try:
        month = parse_month(typed)
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return focus_download(request.user, month)


def _csv_download(report) -> HttpResponse:
    data = chargeback_json(report)
    response = HttpResponse(chargeback_csv(data), content_type="text/csv")
    name = f"chargeback-{data['month']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
