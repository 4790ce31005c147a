from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.keyrequests import services
from apps.keyrequests.models import KeyRequest, RequestState
from apps.vault.models import VendorKey
from apps.vault.tests.factories import make_secret

State = RequestState


@pytest.fixture
def second_admin(db):
    return UserFactory(username="bea", role=Role.ADMIN)


def issue(key_request, admin, **fields):
    values = {"secret": make_secret("openai"), "name": "fraud-staging", **fields}
    return services.issue(Actor(admin), key_request, **values)


def actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def move_to(state, key_request, admin, engineer):
    """Drive a fresh pending request to ``state`` through the services."""
    if state in (State.APPROVED, State.ISSUED):
        services.approve(Actor(admin), key_request)
    if state == State.ISSUED:
        issue(key_request, admin)
    if state == State.REJECTED:
        services.reject(Actor(admin), key_request, reason="No budget")
    if state == State.CANCELLED:
        services.cancel(Actor(engineer), key_request)
    return key_request


# --- creating ---------------------------------------------------------------------


def test_engineer_requests_a_key_for_their_teams_environment(pending, engineer):
    assert pending.state == State.PENDING
    assert pending.requester == engineer
    event = AuditEvent.objects.get(action="key_request.created")
    assert event.target_id == str(pending.pk)
    assert event.details["environment"] == "staging"


def test_admin_may_request_too(make_request, admin):
    assert make_request(admin).requester == admin


def test_finance_cannot_request(make_request, finance):
    with pytest.raises(PermissionDenied):
        make_request(finance)
    assert not KeyRequest.objects.exists()


def test_engineer_cannot_request_for_another_teams_project(
    make_request, engineer, other_staging
):
    with pytest.raises(ValidationError, match="not a project of one of your teams"):
        make_request(engineer, environment=other_staging)


def test_environment_must_belong_to_the_project(engineer, staging, other_staging):
    with pytest.raises(ValidationError, match="not an environment of Checkout"):
        services.create_request(
            Actor(engineer),
            project=staging.project,
            environment=other_staging,
            vendor="openai",
            monthly_cap_usd=10,
            justification="x",
        )


def test_archived_project_cannot_get_requests(make_request, engineer, project):
    project.archived_at = timezone.now()
    project.save()
    with pytest.raises(ValidationError, match="archived"):
        make_request(engineer)


def test_expiry_in_the_past_is_refused(make_request, engineer):
    with pytest.raises(ValidationError, match="in the future"):
        make_request(engineer, expires_at=timezone.now() - timedelta(minutes=1))


def test_blank_justification_is_refused(make_request, engineer):
    with pytest.raises(ValidationError, match="what the key is for"):
        make_request(engineer, justification="   ")


# --- the state machine ------------------------------------------------------------


def test_approve_then_issue_links_the_key_owned_by_the_requester(
    pending, admin, engineer
):
    services.approve(Actor(admin), pending)
    assert pending.state == State.APPROVED
    assert pending.decided_by == admin
    issue(pending, admin, vendor_key_id="key_abc")

    pending.refresh_from_db()
    key = pending.key
    assert pending.state == State.ISSUED
    assert pending.issued_by == admin
    assert key.owner == engineer
    assert key.created_by == admin
    assert key.environment_id == pending.environment_id
    assert key.allowed_models == ["gpt-4o-mini"]
    assert key.monthly_cap_usd == pending.monthly_cap_usd
    assert key.vendor_key_id == "key_abc"
    assert actions() == [
        "key_request.created",
        "key_request.approved",
        "key.registered",
        "key_request.issued",
    ]


def test_approve_with_a_secret_records_approved_then_issued(pending, admin):
    services.approve(
        Actor(admin), pending, secret=make_secret("openai"), name="fraud-staging"
    )
    pending.refresh_from_db()
    assert pending.state == State.ISSUED
    assert pending.decided_by == admin
    assert actions()[1:] == [
        "key_request.approved",
        "key.registered",
        "key_request.issued",
    ]


def test_reject_needs_a_reason_and_records_it(pending, admin):
    with pytest.raises(ValidationError, match="why"):
        services.reject(Actor(admin), pending, reason=" ")
    services.reject(Actor(admin), pending, reason="Use the shared staging key")
    pending.refresh_from_db()
    assert pending.state == State.REJECTED
    assert pending.reason == "Use the shared staging key"
    event = AuditEvent.objects.get(action="key_request.rejected")
    assert event.details == {"from": "pending", "reason": "Use the shared staging key"}


def test_requester_cancels_a_pending_request(pending, engineer):
    services.cancel(Actor(engineer), pending, reason="Not needed")
    pending.refresh_from_db()
    assert pending.state == State.CANCELLED
    assert pending.cancelled_by == engineer
    assert "key_request.cancelled" in actions()


def test_admin_cancels_an_approved_request(approved, admin):
    services.cancel(Actor(admin), approved)
    assert KeyRequest.objects.get(pk=approved.pk).state == State.CANCELLED


def test_requester_cannot_cancel_once_approved(approved, engineer):
    with pytest.raises(PermissionDenied, match="only an admin"):
        services.cancel(Actor(engineer), approved)


def test_admin_cannot_cancel_a_pending_request_but_rejects_it(pending, admin):
    with pytest.raises(PermissionDenied, match="admins reject it"):
        services.cancel(Actor(admin), pending)


LEGAL = {
    (State.PENDING, State.APPROVED),
    (State.PENDING, State.REJECTED),
    (State.PENDING, State.CANCELLED),
    (State.APPROVED, State.ISSUED),
    (State.APPROVED, State.CANCELLED),
}
ILLEGAL = [
    (start, target)
    for start in State.values
    for target in (State.APPROVED, State.REJECTED, State.ISSUED, State.CANCELLED)
    if (start, target) not in LEGAL
]


@pytest.mark.parametrize(("start", "target"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(
    start, target, pending, admin, engineer
):
    key_request = move_to(start, pending, admin, engineer)
    events = AuditEvent.objects.count()
    keys = VendorKey.objects.count()
    # The requester cancels pending requests; an admin does everything else.
    actor = engineer if start == State.PENDING else admin
    with pytest.raises(ValidationError, match=f"This request is {start}"):
        if target == State.APPROVED:
            services.approve(Actor(admin), key_request)
        elif target == State.REJECTED:
            services.reject(Actor(admin), key_request, reason="No")
        elif target == State.ISSUED:
            issue(key_request, admin)
        else:
            services.cancel(Actor(actor), key_request)
    assert KeyRequest.objects.get(pk=key_request.pk).state == start
    assert AuditEvent.objects.count() == events
    assert VendorKey.objects.count() == keys


def test_a_stale_copy_cannot_decide_twice(pending, admin, second_admin):
    stale = KeyRequest.objects.get(pk=pending.pk)
    services.reject(Actor(admin), pending, reason="No budget")
    with pytest.raises(ValidationError, match="This request is rejected"):
        services.approve(Actor(second_admin), stale)
    assert KeyRequest.objects.get(pk=pending.pk).state == State.REJECTED


def test_a_bad_secret_leaves_the_request_approved(approved, admin):
    with pytest.raises(ValidationError, match="OpenAI"):
        issue(approved, admin, secret="not-a-key")
    assert KeyRequest.objects.get(pk=approved.pk).state == State.APPROVED
    assert not VendorKey.objects.exists()


def test_an_expiry_that_passed_blocks_approval(make_request, engineer, admin):
    key_request = make_request(engineer, expires_at=timezone.now() + timedelta(days=1))
    KeyRequest.objects.filter(pk=key_request.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    key_request.refresh_from_db()
    with pytest.raises(ValidationError, match="has passed"):
        services.approve(Actor(admin), key_request)


# --- who decides ------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["finance", "engineer", "outsider"])
def test_only_admins_approve_reject_or_issue(persona, people, pending, approved):
    actor = Actor(people[persona])
    with pytest.raises(PermissionDenied):
        services.approve(actor, pending)
    with pytest.raises(PermissionDenied):
        services.reject(actor, pending, reason="No")
    with pytest.raises(PermissionDenied):
        issue(approved, people[persona])


def test_admin_cannot_approve_their_own_request(make_request, admin, second_admin):
    own = make_request(admin)
    with pytest.raises(PermissionDenied, match="your own request"):
        services.approve(Actor(admin), own)
    with pytest.raises(PermissionDenied, match="your own request"):
        services.reject(Actor(admin), own, reason="Changed my mind")
    assert KeyRequest.objects.get(pk=own.pk).state == State.PENDING
    assert "key_request.self_approval_refused" in actions()

    services.approve(Actor(second_admin), own)
    with pytest.raises(PermissionDenied, match="your own request"):
        issue(own, admin)
    issue(own, second_admin)
    assert KeyRequest.objects.get(pk=own.pk).state == State.ISSUED


# --- the one-time view ------------------------------------------------------------


@pytest.fixture
def issued(approved, admin):
    secret = make_secret("openai")
    issue(approved, admin, secret=secret)
    return approved, secret


def test_requester_sees_the_secret_exactly_once(issued, engineer):
    key_request, secret = issued
    assert services.reveal_once(Actor(engineer), key_request) == secret
    key_request.refresh_from_db()
    assert key_request.viewed_by == engineer
    assert key_request.viewed_at is not None

    with pytest.raises(services.SecretViewRefused, match="already viewed") as refused:
        services.reveal_once(Actor(engineer), key_request)
    assert "by eli" in str(refused.value)
    assert refused.value.code == "already_viewed"
    assert actions()[-2:] == [
        "key_request.secret_viewed",
        "key_request.secret_view_refused",
    ]


def test_a_second_tab_with_a_stale_copy_gets_nothing(issued, engineer):
    key_request, secret = issued
    other_tab = KeyRequest.objects.get(pk=key_request.pk)
    assert services.reveal_once(Actor(engineer), key_request) == secret
    # The other tab loaded the request before the view was claimed.
    assert other_tab.viewed_at is None
    with pytest.raises(services.SecretViewRefused, match="already viewed"):
        services.reveal_once(Actor(engineer), other_tab)


def test_the_view_expires_24_hours_after_issue(issued, engineer):
    key_request, _ = issued
    issued_at = timezone.now() - timedelta(hours=24, seconds=1)
    KeyRequest.objects.filter(pk=key_request.pk).update(issued_at=issued_at)
    key_request.refresh_from_db()
    with pytest.raises(services.SecretViewRefused, match="Ask an admin") as refused:
        services.reveal_once(Actor(engineer), key_request)
    assert refused.value.code == "expired"
    assert KeyRequest.objects.get(pk=key_request.pk).viewed_at is None
    event = AuditEvent.objects.get(action="key_request.secret_view_refused")
    assert event.details == {"why": "expired"}


def test_the_view_still_opens_just_before_the_deadline(issued, engineer):
    key_request, secret = issued
    issued_at = timezone.now() - timedelta(hours=23, minutes=59)
    KeyRequest.objects.filter(pk=key_request.pk).update(issued_at=issued_at)
    key_request.refresh_from_db()
    assert services.reveal_once(Actor(engineer), key_request) == secret


@pytest.mark.parametrize("persona", ["admin", "finance", "outsider"])
def test_only_the_requester_can_open_the_view(persona, people, issued):
    key_request, _ = issued
    with pytest.raises(PermissionDenied):
        services.reveal_once(Actor(people[persona]), key_request)
    assert KeyRequest.objects.get(pk=key_request.pk).viewed_at is None


def test_nothing_to_view_before_issue(approved, engineer):
    with pytest.raises(ValidationError, match="no issued key"):
        services.reveal_once(Actor(engineer), approved)


def test_the_secret_never_reaches_the_audit_log(issued, engineer):
    key_request, secret = issued
    services.reveal_once(Actor(engineer), key_request)
    for details in AuditEvent.objects.values_list("details", flat=True):
        assert secret not in str(details)


def test_visible_requests_are_own_for_engineers_and_all_for_others(
    make_request, people, engineer, admin
):
    mine = make_request(engineer)
    admins = make_request(admin)
    expected = {
        "admin": {mine, admins},
        "finance": {mine, admins},
        "engineer": {mine},
        "outsider": set(),
    }
    for persona, requests in expected.items():
        assert set(services.visible_requests(people[persona])) == requests
