"""Key requests: who may ask for a key, the one state machine, the one-time view.

The states move pending -> approved -> issued, pending -> rejected, and pending or
approved -> cancelled. Every move is a conditional UPDATE on the state it starts
from, so two admins acting at once cannot both win, and every move is audited in
the same transaction.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.services import require_admin
from apps.audit.services import Actor, record
from apps.keyrequests.models import SECRET_VIEW_WINDOW, KeyRequest, RequestState
from apps.projects.models import Environment, Project
from apps.vault import services as vault
from apps.vault.models import KeyStatus, VendorKey

State = RequestState

# For each target state, the states a request may leave to reach it.
TRANSITIONS = {
    State.APPROVED: {State.PENDING},
    State.REJECTED: {State.PENDING},
    State.ISSUED: {State.APPROVED},
    State.CANCELLED: {State.PENDING, State.APPROVED},
}
VERBS = {
    State.APPROVED: "approved",
    State.REJECTED: "rejected",
    State.ISSUED: "issued",
    State.CANCELLED: "cancelled",
}


class SecretViewRefused(ValidationError):
    """The one-time view is gone: already opened, or its window has passed."""


def visible_requests(user):
    """Requests a user may read: all for admins and finance, their own otherwise."""
    requests = KeyRequest.objects.select_related(
        "requester", "project", "environment", "decided_by", "key"
    )
    if not user.sees_everything:
        requests = requests.filter(requester=user)
    return requests


def can_request(user) -> bool:
    return bool(user and user.is_authenticated and not user.is_finance)


def requestable_projects(user):
    """Active projects a user may request keys for: their teams', any for admins."""
    projects = Project.objects.select_related("team").filter(archived_at=None)
    if not user.is_admin:
        projects = projects.filter(team__memberships__user=user)
    return projects.order_by("name", "pk")


def requestable_environments(user):
    environments = Environment.objects.select_related("project").filter(
        archived_at=None, project__in=requestable_projects(user)
    )
    return environments.order_by("project__name", "name", "pk")


def create_request(
    actor: Actor,
    *,
    project,
    environment,
    vendor: str,
    monthly_cap_usd,
    justification: str,
    allowed_models=(),
    expires_at=None,
) -> KeyRequest:
    """Record a pending request after checking the requester may scope it so."""
    if not can_request(actor.user):
        raise PermissionDenied("Finance can read key requests but not make them.")
    _check_scope(actor.user, project, environment)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(
            {"expires_at": "The expiry must be in the future, or left empty."}
        )
    if not justification.strip():
        raise ValidationError({"justification": "Say what the key is for."})
    with transaction.atomic():
        key_request = KeyRequest.objects.create(
            requester=actor.user,
            project=project,
            environment=environment,
            vendor=vendor,
            allowed_models=list(allowed_models),
            monthly_cap_usd=monthly_cap_usd,
            expires_at=expires_at,
            justification=justification.strip(),
        )
        record(
            actor,
            "key_request.created",
            key_request,
            project=project.slug,
            environment=environment.name,
            vendor=vendor,
            allowed_models=key_request.allowed_models,
            monthly_cap_usd=monthly_cap_usd,
            expires_at=expires_at,
        )
    return key_request


def approve(
    actor: Actor,
    key_request: KeyRequest,
    *,
    secret: str = "",
    name: str = "",
    vendor_key_id: str = "",
) -> KeyRequest:
    """Approve a pending request; with a secret, issue the key in the same step."""
    _require_approver(actor, key_request)
    _check_not_expired(key_request)
    with transaction.atomic():
        _move(
            actor,
            key_request,
            State.APPROVED,
            decided_by=actor.user,
            decided_at=timezone.now(),
        )
        if secret:
            issue(
                actor,
                key_request,
                secret=secret,
                name=name,
                vendor_key_id=vendor_key_id,
            )
    return key_request


def reject(actor: Actor, key_request: KeyRequest, *, reason: str) -> KeyRequest:
    _require_approver(actor, key_request)
    if not reason.strip():
        raise ValidationError({"reason": "Tell the requester why it is rejected."})
    with transaction.atomic():
        _move(
            actor,
            key_request,
            State.REJECTED,
            decided_by=actor.user,
            decided_at=timezone.now(),
            reason=reason.strip(),
        )
    return key_request


def issue(
    actor: Actor,
    key_request: KeyRequest,
    *,
    secret: str = "",
    name: str,
    vendor_key_id: str = "",
    connection=None,
    vendor_project_id: str = "",
) -> KeyRequest:
    """Register the requested key: a secret the admin pasted, or one the vendor makes.

    Without a secret, the vendor creates the key through ``connection`` in
    ``vendor_project_id`` first, outside any transaction; a key it created that
    Keyhold then fails to store is reported with its vendor id.
    """
    _require_approver(actor, key_request)
    _check_not_expired(key_request)
    if not name.strip() or not (secret or connection):
        raise ValidationError(
            "Issuing needs the secret and a name for the key, or a name and a "
            "connection to create the key at the vendor."
        )
    vault.check_connection(key_request.vendor, connection)
    if secret:
        return _register(actor, key_request, secret, name, vendor_key_id, connection)

    _check_can_move(key_request, State.ISSUED)
    if not vendor_project_id.strip():
        raise ValidationError(
            {"vendor_project_id": "Give the vendor project to create the key in."}
        )
    created = vault.create_at_vendor(
        connection, vendor_project_id.strip(), name.strip()
    )
    with vault.storing_created_key(actor, connection, created):
        return _register(
            actor,
            key_request,
            created.secret,
            name,
            created.vendor_key_id,
            connection,
            created_at_vendor=True,
        )


def _register(
    actor, key_request, secret, name, vendor_key_id, connection, **audit
) -> KeyRequest:
    with transaction.atomic():
        # The key is registered first; if another admin issued meanwhile, the
        # conditional move below fails and takes the registration back with it.
        key = vault.register_key(
            actor,
            secret=secret,
            name=name.strip(),
            vendor=key_request.vendor,
            project=key_request.project,
            environment=key_request.environment,
            owner=key_request.requester,
            vendor_key_id=vendor_key_id,
            allowed_models=key_request.allowed_models,
            monthly_cap_usd=key_request.monthly_cap_usd,
            expires_at=key_request.expires_at,
            connection=connection,
        )
        _move(
            actor,
            key_request,
            State.ISSUED,
            key=key,
            issued_by=actor.user,
            issued_at=timezone.now(),
            audit={"key": key.pk, "hint": key.hint, **audit},
        )
    return key_request


def cancel(actor: Actor, key_request: KeyRequest, *, reason: str = "") -> KeyRequest:
    """Withdraw a request: the requester while pending, an admin once approved."""
    user = actor.user
    if key_request.state == State.PENDING and user != key_request.requester:
        raise PermissionDenied(
            "Only the requester can cancel a pending request; admins reject it."
        )
    if key_request.state == State.APPROVED and not user.is_admin:
        raise PermissionDenied("Once approved, only an admin can cancel the request.")
    with transaction.atomic():
        _move(
            actor,
            key_request,
            State.CANCELLED,
            cancelled_by=user,
            cancelled_at=timezone.now(),
            reason=reason.strip(),
        )
    return key_request


def reveal_once(actor: Actor, key_request: KeyRequest) -> str:
    """Return the issued secret to its requester, once, within the view window.

    The view is claimed by a conditional UPDATE on ``viewed_at IS NULL``: of two
    tabs opening it at the same moment, only one gets the secret.
    """
    if actor.user != key_request.requester:
        raise PermissionDenied("Only the requester can view the issued key.")
    if key_request.state != State.ISSUED:
        raise ValidationError("This request has no issued key to view.")
    now = timezone.now()
    with transaction.atomic():
        claimed = KeyRequest.objects.filter(
            pk=key_request.pk,
            state=State.ISSUED,
            viewed_at=None,
            issued_at__gt=now - SECRET_VIEW_WINDOW,
        ).update(viewed_at=now, viewed_by=actor.user)
        if claimed:
            key = VendorKey.objects.select_for_update().get(pk=key_request.key_id)
            if _issued_secret_is_current(key):
                issued = key.versions.select_related("secret").get(number=1)
                secret = issued.secret.reveal()
            else:
                # Revoked, expired or rotated since: the issued secret is no longer
                # the key's to hand out, and a newer one is an admin's to reveal.
                transaction.set_rollback(True)
                claimed = 0
        if claimed:
            record(
                actor,
                "key_request.secret_viewed",
                key_request,
                key=key.pk,
                hint=key.hint,
            )
    key_request.refresh_from_db()
    if claimed:
        return secret
    message, why = view_refusal(key_request)
    if not why:
        message, why = "This key cannot be viewed any more.", "unavailable"
    with transaction.atomic():
        record(actor, "key_request.secret_view_refused", key_request, why=why)
    raise SecretViewRefused(message, code=why)


def view_refusal(key_request: KeyRequest) -> tuple[str, str]:
    """Why the one-time view cannot open now, as (message, code); ("", "") if it can."""
    if key_request.viewed_at:
        return (
            f"This key was already viewed on {key_request.viewed_at:%Y-%m-%d %H:%M} "
            f"UTC by "
            f"{key_request.viewed_by.get_username()}. It is shown only once: "
            "ask an admin to reveal it if it was lost.",
            "already_viewed",
        )
    key = key_request.key
    if key is not None and not _issued_secret_is_current(key):
        return (
            f"The issued key is {key.get_status_display().lower()} or was rotated "
            "since it was issued, so it is no longer shown here. Ask an admin.",
            "key_changed",
        )
    if key_request.view_deadline and timezone.now() >= key_request.view_deadline:
        return (
            "The one-time view expired 24 hours after the key was issued. "
            "Ask an admin to reveal the key for you.",
            "expired",
        )
    return "", ""


def _issued_secret_is_current(key: VendorKey) -> bool:
    return key.status == KeyStatus.ACTIVE and key.rotated_at is None


def _move(actor: Actor, key_request: KeyRequest, target: str, audit=None, **fields):
    """Move the request to ``target`` if its stored state allows it, and audit it.

    Run inside the caller's transaction.
    """
    allowed = TRANSITIONS[target]
    moved = KeyRequest.objects.filter(
        pk=key_request.pk, state=key_request.state, state__in=allowed
    ).update(state=target, **fields)
    if not moved:
        seen = key_request.state
        key_request.refresh_from_db()
        state = key_request.get_state_display().lower()
        if key_request.state != seen and key_request.state in allowed:
            raise ValidationError(
                f"This request changed meanwhile and is now {state}: "
                "reload it and try again.",
                code="stale_state",
            )
        raise _illegal_move(key_request, target)
    previous = key_request.state
    for name, value in fields.items():
        setattr(key_request, name, value)
    key_request.state = target
    details = {"from": previous, **(audit or {})}
    if fields.get("reason"):
        details["reason"] = fields["reason"]
    record(actor, f"key_request.{target}", key_request, **details)


def _check_can_move(key_request: KeyRequest, target: str) -> None:
    """Refuse early a move the stored state forbids, before a vendor acts on it."""
    key_request.refresh_from_db()
    if key_request.state not in TRANSITIONS[target]:
        raise _illegal_move(key_request, target)


def _illegal_move(key_request: KeyRequest, target: str) -> ValidationError:
    allowed = TRANSITIONS[target]
    return ValidationError(
        f"This request is {key_request.get_state_display().lower()}: only "
        f"{' or '.join(sorted(allowed))} requests can be {VERBS[target]}.",
        code="illegal_transition",
    )


def _require_approver(actor: Actor, key_request: KeyRequest) -> None:
    require_admin(actor.user)
    if actor.user == key_request.requester:
        with transaction.atomic():
            record(actor, "key_request.self_approval_refused", key_request)
        raise PermissionDenied(
            "You cannot decide on your own request: another admin must approve, "
            "reject or issue it."
        )


def _check_scope(user, project, environment) -> None:
    if environment.project_id != project.pk:
        raise ValidationError(
            {
                "environment": f"{environment.name} is not an environment of "
                f"{project.name}: choose one of {project.name}'s environments."
            }
        )
    if project.is_archived or environment.is_archived:
        raise ValidationError(
            "Keys cannot be requested for an archived project or environment."
        )
    if not requestable_projects(user).filter(pk=project.pk).exists():
        raise ValidationError(
            {"project": f"{project.name} is not a project of one of your teams."}
        )


def _check_not_expired(key_request: KeyRequest) -> None:
    expires_at = key_request.expires_at
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(
            "The expiry this request asked for has passed: reject it and ask the "
            "requester for a new one."
        )
