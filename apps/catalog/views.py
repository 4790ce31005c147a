from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from apps.audit.services import Actor
from apps.catalog import services
from apps.catalog.forms import ModelFilterForm, PriceOverrideForm, TierForm
from apps.catalog.models import PriceOverride
from console.htmx import render_page

PAGE_SIZE = 50


@login_required
def model_list(request):
    return _render_list(request, PriceOverrideForm() if request.user.is_admin else None)


@login_required
@require_POST
def override_create(request):
    _require_admin(request)
    form = PriceOverrideForm(request.POST)
    created = None
    if form.is_valid():
        try:
            created = services.create_override(
                Actor.from_request(request), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if created and not request.htmx:
        messages.success(request, f"Override for {created.model} added.")
        return redirect("model-list")
    return _render_list(request, PriceOverrideForm() if created else form, created)


@login_required
@require_POST
def override_delete(request, pk):
    _require_admin(request)
    override = get_object_or_404(PriceOverride, pk=pk)
    services.delete_override(Actor.from_request(request), override)
    if request.htmx:
        return _render_list(request, PriceOverrideForm())
    messages.success(request, f"Override for {override.model} deleted.")
    return redirect("model-list")


@login_required
@require_POST
def tier_update(request):
    _require_admin(request)
    form = TierForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a vendor, a model and a tier.")
        return redirect("model-list")
    services.set_tier(Actor.from_request(request), **form.cleaned_data)
    if request.htmx:
        return _render_list(request, PriceOverrideForm())
    messages.success(request, f"{form.cleaned_data['model']} reclassified.")
    return redirect("model-list")


def _render_list(request, form, created=None):
    filters = ModelFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    rows = services.catalog_rows(
        vendor=data.get("vendor", ""), search=data.get("q", "")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "page": page,
        "filters": filters,
        "form": form,
        "created": created,
        "tiers": TierForm.base_fields["tier"].choices,
    }
    return render_page(request, "catalog/model_list.html", ctx, "model-panel")


def _require_admin(request):
    if not request.user.is_admin:
        raise PermissionDenied("Only admins can change prices and tiers.")
