from django.db import connection

DISABLE_TRIGGER = "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only"
ENABLE_TRIGGER = "ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only"


def tamper(sql, params):
    """Run SQL past the ORM and, on PostgreSQL, past the append-only trigger.

    This is what someone with direct write access to the database could do; the hash
    chain exists to make it visible.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(DISABLE_TRIGGER)
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(ENABLE_TRIGGER)


def change_details(event, details_json):
    tamper(
        "UPDATE audit_auditevent SET details = %s WHERE id = %s",
        [details_json, event.pk],
    )


def refuse_audit_inserts():
    # A real refusal by the database, undone with the test's transaction: the audit
    # write fails the way a full disk or a revoked grant would make it fail.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE audit_auditevent ADD CONSTRAINT audit_write_refused "
                "CHECK (false) NOT VALID"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER audit_write_refused BEFORE INSERT ON audit_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'audit write refused'); END"
            )
