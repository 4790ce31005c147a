"""Trigram indexes for the key inventory's search on PostgreSQL.

The search is a case-insensitive substring match on name, hint and vendor key id;
without these indexes PostgreSQL reads every key (seconds at 500k keys). The indexes
cover the exact expressions Django's ``icontains`` emits. SQLite has no equivalent
and is left as it is.
"""

from django.db import migrations

COLUMNS = ("name", "hint", "vendor_key_id")


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS vault_vendorkey_{column}_trgm "
            f"ON vault_vendorkey USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )
    # The planner uses an expression index only once it has statistics for it.
    schema_editor.execute("ANALYZE vault_vendorkey")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS vault_vendorkey_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("vault", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
