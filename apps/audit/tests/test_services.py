import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from apps.accounts.models import Team
from apps.accounts.services import create_team
from apps.audit.models import GENESIS_HASH, AppendOnlyError, AuditEvent
from apps.audit.services import SYSTEM, Actor, record, verify_chain
from apps.audit.tests.tampering import change_details, refuse_audit_inserts, tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")


@pytest.fixture
def chain(admin, team):
    """Three events by an admin about one team, oldest first."""
    actor = Actor(user=admin, ip="10.0.0.7")
    return [
        record(actor, "team.created", team, name="Payments"),
        record(actor, "team.updated", team, changes={"name": ["Payments", "Pay"]}),
        record(SYSTEM, "team.checked", team),
    ]


def test_record_links_each_event_to_the_one_before(chain):
    stored = list(AuditEvent.objects.order_by("id"))

    assert stored[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert all(e.hash == e.compute_hash() for e in stored)
    assert len({e.hash for e in stored}) == 3


def test_record_keeps_actor_target_and_ip(chain, admin, team):
    event = AuditEvent.objects.get(action="team.created")

    assert (event.actor_id, event.actor_name, event.ip) == (admin.pk, "ada", "10.0.0.7")
    assert (event.target_type, event.target_id) == ("team", str(team.pk))
    assert event.target_repr == "Payments"
    assert str(AuditEvent.objects.get(action="team.checked")).endswith(
        "system team.checked"
    )


def test_intact_chain_reports_its_count_and_head(chain):
    report = verify_chain()

    assert report.ok
    assert (report.checked, report.head) == (3, chain[-1].hash)


def test_empty_chain_is_intact():
    report = verify_chain()

    assert report.ok
    assert (report.checked, report.head) == (0, GENESIS_HASH)


def test_details_are_stored_as_the_json_they_were_hashed_as():
    moment = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    event = record(
        SYSTEM,
        "budget.changed",
        amount=Decimal("120.50"),
        at=moment,
        tiers=("economy", "standard"),
        nested={"cap": Decimal("1.5"), "none": None},
    )

    expected = {
        "amount": "120.50",
        "at": "2026-03-01 12:30:00+00:00",
        "tiers": ["economy", "standard"],
        "nested": {"cap": "1.5", "none": None},
    }
    assert event.details == expected
    assert AuditEvent.objects.get(pk=event.pk).details == expected
    assert verify_chain().ok


@pytest.mark.parametrize("number", [1e20, 1e23, -2.5e17, 1.5e-7, 0.1, 1.0, 2**70])
def test_numbers_in_details_keep_the_chain_verifiable(number):
    event = record(SYSTEM, "usage.spike", tokens=number)

    assert AuditEvent.objects.get(pk=event.pk).details == event.details
    assert verify_chain().ok


@pytest.mark.parametrize(
    ("remote_addr", "stored"),
    [
        ("2001:DB8::1", "2001:db8::1"),
        # What a dual-stack server reports for an IPv4 client.
        ("::ffff:192.0.2.10", "::ffff:192.0.2.10"),
        ("fe80::1%eth0", "fe80::1"),
        ("not an address", None),
    ],
)
def test_any_client_address_keeps_the_chain_verifiable(remote_addr, stored):
    event = record(Actor(ip=remote_addr), "auth.login_failed", username="x")

    assert AuditEvent.objects.get(pk=event.pk).ip == stored
    assert verify_chain().ok


def test_orm_refuses_to_update_or_delete_events(chain):
    event = chain[0]

    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="team.forged")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        event.action = "team.forged"
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()

    assert AuditEvent.objects.count() == 3
    assert AuditEvent.objects.get(pk=event.pk).action == "team.created"


def test_a_new_event_cannot_overwrite_an_existing_one_by_its_id(chain):
    forged = AuditEvent(**{f.attname: getattr(chain[0], f.attname) for f in _fields()})
    forged.action = "team.forged"

    with pytest.raises(DatabaseError), transaction.atomic():
        forged.save()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create(
            [forged],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["action"],
        )

    assert AuditEvent.objects.get(pk=chain[0].pk).action == "team.created"


def test_database_refuses_raw_update_and_delete(postgres, chain):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE audit_auditevent SET action = 'team.forged' WHERE id = %s",
            [chain[0].pk],
        )
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [chain[0].pk])

    assert AuditEvent.objects.count() == 3
    assert verify_chain().ok


def test_changed_details_are_detected_at_that_event(chain):
    change_details(chain[1], '{"name": "Someone else"}')

    report = verify_chain()

    assert report.broken_event_id == chain[1].pk
    assert report.reason == "its content does not match its hash"
    assert (report.checked, report.head) == (1, chain[0].hash)


def test_a_rewritten_event_with_a_fresh_hash_breaks_the_next_link(chain):
    forged = AuditEvent.objects.get(pk=chain[1].pk)
    forged.details = {"changes": {"name": ["Payments", "Other"]}}
    tamper(
        "UPDATE audit_auditevent SET details = %s, hash = %s WHERE id = %s",
        [
            '{"changes": {"name": ["Payments", "Other"]}}',
            forged.compute_hash(),
            forged.pk,
        ],
    )

    report = verify_chain()

    assert report.broken_event_id == chain[2].pk
    assert report.reason == "its link to the previous event does not match"


def test_a_deleted_event_is_detected_at_the_next_one(chain):
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [chain[1].pk])

    report = verify_chain()

    assert report.broken_event_id == chain[2].pk
    assert report.reason == "its link to the previous event does not match"
    assert report.checked == 1


def test_a_failed_audit_write_undoes_the_change_it_records(admin):
    refuse_audit_inserts()

    with pytest.raises(DatabaseError):
        create_team(Actor(user=admin), name="Fraud", slug="fraud")

    assert not Team.objects.filter(slug="fraud").exists()
    assert not AuditEvent.objects.exists()


def test_an_event_rolls_back_with_the_change_it_records():
    with pytest.raises(RuntimeError), transaction.atomic():
        record(SYSTEM, "team.created", name="Ghost")
        raise RuntimeError("the change failed after it was audited")

    assert not AuditEvent.objects.exists()


def _fields():
    return AuditEvent._meta.concrete_fields
