from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.audit.services import Actor
from apps.keyrequests import services
from apps.keyrequests.forms import (
    ApproveForm,
    IssueForm,
    KeyRequestForm,
    ReasonForm,
    RequestFilterForm,
)
from apps.keyrequests.models import RequestState
from apps.vault import services as vault
from console.htmx import render_page

PAGE_SIZE = 50


@login_required
def request_list(request):
    filters = RequestFilterForm(request.GET or None)
    requests = services.visible_requests(request.user)
    if filters.is_valid() and filters.cleaned_data["state"]:
        requests = requests.filter(state=filters.cleaned_data["state"])
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "page": page,
        "filters": filters,
        "can_request": services.can_request(request.user),
    }
    return render_page(request, "keyrequests/request_list.html", ctx, "request-panel")


@login_required
def request_create(request):
    if not services.can_request(request.user):
        raise PermissionDenied("Finance can read key requests but not make them.")
    form = KeyRequestForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            key_request = services.create_request(
                Actor.from_request(request), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Request sent: an admin will review it.")
            return redirect("request-detail", key_request.pk)
    return render(request, "keyrequests/request_create.html", {"form": form})


@login_required
def request_detail(request, pk):
    key_request = _get_request(request, pk)
    return render(
        request, "keyrequests/request_detail.html", _context(request, key_request)
    )


@login_required
@require_POST
def request_approve(request, pk):
    key_request = _get_request(request, pk)
    form = ApproveForm(request.POST)
    return _decide(
        request, key_request, form, "approve_form", services.approve, "approved"
    )


@login_required
@require_POST
def request_issue(request, pk):
    key_request = _get_request(request, pk)
    form = _issue_form(key_request, request.POST)
    return _decide(request, key_request, form, "issue_form", services.issue, "issued")


@login_required
@require_POST
def request_reject(request, pk):
    key_request = _get_request(request, pk)
    form = ReasonForm(request.POST, auto_id="reject-%s")
    return _decide(
        request, key_request, form, "reject_form", services.reject, "rejected"
    )


@login_required
@require_POST
def request_cancel(request, pk):
    key_request = _get_request(request, pk)
    form = ReasonForm(request.POST, auto_id="cancel-%s", required=False)
    return _decide(
        request, key_request, form, "cancel_form", services.cancel, "cancelled"
    )


@never_cache
@login_required
def request_secret(request, pk):
    """The requester's one-time view: POST opens it, GET only says where it stands."""
    key_request = _get_request(request, pk)
    if key_request.requester != request.user:
        raise PermissionDenied("Only the requester can view the issued key.")
    ctx = {"key_request": key_request, "secret": None, "refusal": ""}
    if request.method == "POST":
        try:
            ctx["secret"] = services.reveal_once(
                Actor.from_request(request), key_request
            )
        except ValidationError as exc:
            ctx["refusal"] = " ".join(exc.messages)
    else:
        ctx["refusal"] = services.view_refusal(key_request)[0]
    return render(request, "keyrequests/request_secret.html", ctx)


def _decide(request, key_request, form, form_name, change, verb):
    """Apply an admin's or requester's decision; re-render the form if refused."""
    if form.is_valid():
        try:
            change(Actor.from_request(request), key_request, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
            key_request.refresh_from_db()
        else:
            if not request.htmx:
                messages.success(request, f"Request {verb}.")
                return redirect("request-detail", key_request.pk)
            form = None
    ctx = _context(request, key_request)
    if form is not None:
        ctx[form_name] = form
    else:
        ctx["done"] = f"Request {verb}."
    return render_page(
        request, "keyrequests/request_detail.html", ctx, "request-detail"
    )


def _context(request, key_request):
    """The request and the forms the signed-in user may use on it now."""
    user = request.user
    state = key_request.state
    is_requester = key_request.requester_id == user.pk
    decides = user.is_admin and not is_requester
    return {
        "key_request": key_request,
        "is_requester": is_requester,
        "approve_form": (
            ApproveForm() if decides and state == RequestState.PENDING else None
        ),
        "reject_form": (
            ReasonForm(auto_id="reject-%s")
            if decides and state == RequestState.PENDING
            else None
        ),
        "issue_form": (
            _issue_form(key_request)
            if decides and state == RequestState.APPROVED
            else None
        ),
        "cancel_form": (
            ReasonForm(auto_id="cancel-%s", required=False)
            if (is_requester and state == RequestState.PENDING)
            or (user.is_admin and state == RequestState.APPROVED)
            else None
        ),
        "view_refusal": services.view_refusal(key_request)[0],
        "create_blocker": vault.vendor_create_blocker(key_request.vendor),
        "vendor_projects": (
            vault.known_vendor_projects(key_request.vendor)
            if decides and state == RequestState.APPROVED
            else []
        ),
    }


def _issue_form(key_request, data=None):
    creates = not vault.vendor_create_blocker(key_request.vendor)
    return IssueForm(data, vendor=key_request.vendor, creates=creates)


def _get_request(request, pk):
    return get_object_or_404(services.visible_requests(request.user), pk=pk)
