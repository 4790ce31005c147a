from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from apps.accounts.services import require_admin, visible_teams
from apps.audit.services import Actor
from apps.projects.services import visible_environments, visible_projects
from apps.vault import services
from apps.vault.forms import (
    KeyFilterForm,
    KeyRegisterForm,
    KeyScopeForm,
    PasswordForm,
    RevokeForm,
    RotateForm,
)
from console.htmx import render_page

PAGE_SIZE = 50
# Beyond this the list says "10000+": an exact COUNT(*) would read every row.
COUNT_CAP = 10_000
HISTORY_SIZE = 100
ELEVATED_UNTIL = "vault.elevated_until"


class KeyPage:
    """One page of keys, read with one extra row instead of counting them all."""

    def __init__(self, keys, number):
        self.number = int(number) if str(number).isdigit() and int(number) else 1
        start = (self.number - 1) * PAGE_SIZE
        rows = services.page_of_keys(keys, start, start + PAGE_SIZE + 1)
        self.rows = rows[:PAGE_SIZE]
        self.has_next = len(rows) > PAGE_SIZE
        self.has_previous = self.number > 1
        self.first, self.last = start + 1, start + len(self.rows)
        self.total = keys[: COUNT_CAP + 1].count()
        self.total_capped = self.total > COUNT_CAP

    def __iter__(self):
        return iter(self.rows)


@login_required
def key_list(request):
    filters = KeyFilterForm(
        request.GET or None,
        teams=visible_teams(request.user),
        projects=visible_projects(request.user).filter(archived_at=None),
        environments=visible_environments(request.user).filter(archived_at=None),
    )
    keys = services.visible_keys(request.user)
    if filters.is_valid():
        keys = filters.apply(keys)
    elif filters.is_bound:
        keys = keys.none()  # the filter form says which value to correct

    page = KeyPage(keys.order_by("-created_at", "-id"), request.GET.get("page", 1))
    ctx = {"page": page, "filters": filters}
    return render_page(request, "vault/key_list.html", ctx, "key-panel")


@never_cache
@login_required
def key_create(request):
    """Register a key; the answer that shows its secret, once, is never cached."""
    require_admin(request.user)
    form = KeyRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        secret = fields.pop("secret")
        try:
            key = services.register_key(
                Actor.from_request(request), secret=secret, **fields
            )
        except ValidationError as exc:
            _add_secret_error(form, exc)
        else:
            ctx = {"key": key, "secret": secret}
            return render_page(request, "vault/key_create.html", ctx, "key-created")
    ctx = {"form": form}
    return render_page(request, "vault/key_create.html", ctx, "key-create-form")


@login_required
def key_detail(request, pk):
    key = _get_key(request, pk)
    return render(request, "vault/key_detail.html", _detail_context(key))


@login_required
def key_edit(request, pk):
    key = _get_key(request, pk)
    require_admin(request.user)
    form = KeyScopeForm(request.POST or None, instance=key)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_key(Actor.from_request(request), key, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if request.htmx:
                template = "vault/key_detail.html#key-summary"
                return render(request, template, _detail_context(key))
            messages.success(request, f"Key {key.name} saved.")
            return redirect("key-detail", key.pk)
    if form.is_bound:
        key.refresh_from_db()  # validation copied the rejected values onto it
    ctx = {"key": key, "form": form}
    return render_page(request, "vault/key_edit.html", ctx, "key-edit-form")


@never_cache
@login_required
def key_reveal(request, pk):
    """Show a key's secret to an admin in elevated mode; enter it with the password.

    The password opens elevated mode for services.ELEVATION, kept in the session, so
    several reveals in a row ask for it once. Each reveal is a POST and is audited.
    """
    key = _get_key(request, pk)
    require_admin(request.user)
    actor = Actor.from_request(request)
    elevated_until = _elevated_until(request)
    form = None if elevated_until else PasswordForm(request.POST or None)

    if request.method == "POST" and form is not None and form.is_valid():
        try:
            password = form.cleaned_data["password"]
            elevated_until = services.elevate(actor, key, password)
        except PermissionDenied as exc:
            form.add_error("password", str(exc))
        else:
            request.session[ELEVATED_UNTIL] = elevated_until.isoformat()
            form = None

    secret = None
    if request.method == "POST" and form is None:
        secret = services.reveal_key(actor, key, elevated_until=elevated_until)
    ctx = {"key": key, "form": form, "secret": secret, "elevated_until": elevated_until}
    return render(request, "vault/key_reveal.html", ctx)


@never_cache
@login_required
def key_rotate(request, pk):
    """Rotate to a pasted secret, or to one the vendor creates, shown here once."""
    key = _get_key(request, pk)
    require_admin(request.user)
    create_blocker = services.rotation_create_blocker(key)
    form = RotateForm(
        request.POST or None,
        vendor=None if create_blocker else key.get_vendor_display(),
        known_project=services.known_vendor_project(key),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actor = Actor.from_request(request)
        try:
            if data.get("create_at_vendor"):
                version, secret = services.rotate_key_at_vendor(
                    actor,
                    key,
                    vendor_project_id=data["vendor_project_id"],
                    overlap_hours=data["overlap_hours"],
                )
                ctx = {"key": key, "version": version, "secret": secret}
                return render(request, "vault/key_rotate.html", ctx)
            version = services.rotate_key(
                actor,
                key,
                secret=data["secret"],
                vendor_key_id=data["vendor_key_id"],
                overlap_hours=data["overlap_hours"],
            )
        except ValidationError as exc:
            _add_secret_error(form, exc)
        else:
            messages.success(
                request,
                f"Key {key.name} rotated: version {version.number} ({version.hint}) "
                "is current.",
            )
            return redirect("key-detail", key.pk)
    ctx = {
        "key": key,
        "form": form,
        "create_blocker": create_blocker,
        "vendor_projects": _vendor_projects(key, create_blocker),
    }
    return render(request, "vault/key_rotate.html", ctx)


@login_required
def key_revoke(request, pk):
    key = _get_key(request, pk)
    require_admin(request.user)
    revoke_blocker = services.vendor_revoke_blocker(key)
    vendor = key.get_vendor_display()
    form = RevokeForm(request.POST or None, vendor=None if revoke_blocker else vendor)
    if request.method == "POST" and form.is_valid():
        at_vendor = form.cleaned_data.get("at_vendor", False)
        try:
            services.revoke_key(
                Actor.from_request(request),
                key,
                reason=form.cleaned_data["reason"],
                at_vendor=at_vendor,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            where = f"at {vendor} and in Keyhold" if at_vendor else "in Keyhold"
            messages.success(request, f"Key {key.name} revoked {where}.")
            return redirect("key-detail", key.pk)
    ctx = {"key": key, "form": form, "revoke_blocker": revoke_blocker}
    return render(request, "vault/key_revoke.html", ctx)


def _detail_context(key):
    versions = key.versions.select_related("created_by").order_by("-number")
    return {
        "key": key,
        "versions": versions,
        "history": services.key_history(key)[:HISTORY_SIZE],
        "history_size": HISTORY_SIZE,
    }


def _vendor_projects(key, create_blocker):
    if create_blocker:
        return []
    return services.known_vendor_projects(key.vendor, key.connection)


def _add_secret_error(form, exc):
    if hasattr(exc, "error_dict"):
        form.add_error(None, exc)  # it names its fields itself
        return
    # Format and duplicate refusals are about the pasted secret; others (scope,
    # a key no longer active, the vendor) about the form as a whole.
    codes = {getattr(error, "code", None) for error in exc.error_list}
    field = "secret" if codes & {"key_format", "duplicate_secret"} else None
    form.add_error(field, exc)


def _elevated_until(request):
    value = request.session.get(ELEVATED_UNTIL)
    until = datetime.fromisoformat(value) if value else None
    return until if until and until > timezone.now() else None


def _get_key(request, pk):
    return get_object_or_404(services.visible_keys(request.user), pk=pk)
