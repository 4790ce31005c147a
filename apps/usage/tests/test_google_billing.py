"""Importing a Google Cloud Billing export: exact totals, attribution, refusals."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.connectors import services
from apps.spend.report import spend_report
from apps.usage.google_billing import import_billing_export, model_from_sku
from apps.usage.models import DailySpend
from apps.vault.tests.factories import make_key, make_secret

pytestmark = pytest.mark.django_db

NOV_1, NOV_2 = date(2025, 11, 1), date(2025, 11, 2)
COLUMNS = [
    "billing_account_id",
    "service.id",
    "service.description",
    "sku.id",
    "sku.description",
    "usage_start_time",
    "usage_end_time",
    "project.id",
    "project.name",
    "cost",
    "currency",
    "currency_conversion_rate",
    "usage.amount",
    "usage.unit",
    "credits",
    "cost_type",
]
DOTTED = ",".join(COLUMNS)


def line(sku, start, cost, amount="", **cells) -> dict:
    """One line of the standard usage cost table, Gemini API in USD by default."""
    return {
        "billing_account_id": "01-AB",
        "service.id": "AEFD",
        "service.description": cells.pop("service", "Gemini API"),
        "sku.description": sku,
        "usage_start_time": f"2025-11-{start} UTC",
        "project.id": cells.pop("project", "pay-prod"),
        "cost": cost,
        "currency": cells.pop("currency", "USD"),
        "currency_conversion_rate": cells.pop("rate", "1.0"),
        "usage.amount": amount,
        "usage.unit": cells.pop("unit", "tokens" if amount else ""),
        "credits": cells.pop("credits", ""),
        "cost_type": cells.pop("cost_type", "regular"),
    }


def export(*lines) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(lines)
    return text.getvalue()


FLASH_IN = "Gemini 2.5 Flash Input token count"
FLASH_OUT = "Gemini 2.5 Flash Output token count"
FREE_TIER = '[{"name": "FreeTier", "amount": -0.50}]'
EXPORT = export(
    line(FLASH_IN, "01 00:00:00", "1.20", "4000000", credits="[]"),
    line(FLASH_OUT, "01 01:00:00", "2.50", "1000000", credits=FREE_TIER),
    line("Gemini 2.5 Flash Cached input token count", "01 02:00:00", "0.03", "1e6"),
    line(
        "Gemini 2.5 Pro Input token count",
        "01 23:00:00",
        "1.25",
        "1000000",
        service="Generative Language API",
        project="search-dev",
        credits="-0.25",
    ),
    line(
        "N1 Predefined Instance Core",
        "01 00:00:00",
        "9.99",
        "3600",
        service="Compute Engine",
        unit="seconds",
    ),
    line(FLASH_IN, "02 00:00:00", "0.60", "2000000"),
    line("Tax", "02 00:00:00", "0.10", cost_type="tax"),
)


@pytest.fixture
def google(admin):
    return services.create_connection(
        Actor(admin),
        name="gcp billing",
        vendor="google",
        base_url="https://generativelanguage.googleapis.com",
        admin_key=make_secret("google"),
    )


def upload(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def stored(connection) -> dict:
    """(day, project, model) -> (amount, currency, cost_usd, in, cached, out)."""
    return {
        (row.day, row.vendor_project_id, row.model): (
            row.amount,
            row.currency,
            row.cost_usd,
            row.uncached_input,
            row.cache_read,
            row.output,
        )
        for row in DailySpend.objects.filter(connection=connection, derived=True)
    }


EXPECTED = {
    # 1.20 + (2.50 - 0.50 credit) + 0.03
    (NOV_1, "pay-prod", "gemini-2.5-flash"): (
        Decimal("3.23"),
        "USD",
        Decimal("3.23"),
        4_000_000,
        1_000_000,
        1_000_000,
    ),
    # 1.25 - 0.25 credit
    (NOV_1, "search-dev", "gemini-2.5-pro"): (
        Decimal("1.00"),
        "USD",
        Decimal("1.00"),
        1_000_000,
        0,
        0,
    ),
    (NOV_2, "pay-prod", "gemini-2.5-flash"): (
        Decimal("0.60"),
        "USD",
        Decimal("0.60"),
        2_000_000,
        0,
        0,
    ),
}


def test_an_export_becomes_spend_per_day_project_and_model(admin, google):
    summary = import_billing_export(Actor(admin), google, upload(EXPORT))

    assert stored(google) == EXPECTED
    assert summary == {
        "rows": 3,
        "days": 2,
        "projects": 2,
        "first_day": "2025-11-01",
        "last_day": "2025-11-02",
        "currency": "USD",
        "amount": "4.83",
        "cost_usd": "4.83",
        "skipped_lines": 2,
    }
    event = AuditEvent.objects.get(action="billing_export.imported")
    assert (event.details["rows"], event.details["days"]) == (3, 2)
    assert event.target_id == str(google.pk)


def test_underscored_headers_read_the_same(admin, google):
    underscored = EXPORT.replace(DOTTED, DOTTED.replace(".", "_"))

    import_billing_export(Actor(admin), google, upload(underscored))

    assert stored(google) == EXPECTED


def test_reimporting_the_same_export_replaces_and_never_doubles(admin, google):
    import_billing_export(Actor(admin), google, upload(EXPORT))

    import_billing_export(Actor(admin), google, upload(EXPORT))

    assert stored(google) == EXPECTED
    assert DailySpend.objects.filter(connection=google).count() == 3


def test_an_export_of_one_day_leaves_the_other_days_alone(admin, google):
    import_billing_export(Actor(admin), google, upload(EXPORT))
    corrected = export(line(FLASH_IN, "02 00:00:00", "0.75", "2500000"))

    import_billing_export(Actor(admin), google, upload(corrected))

    assert stored(google) == EXPECTED | {
        (NOV_2, "pay-prod", "gemini-2.5-flash"): (
            Decimal("0.75"),
            "USD",
            Decimal("0.75"),
            2_500_000,
            0,
            0,
        )
    }


def test_spend_is_attributed_to_the_key_registered_for_the_project(admin, google):
    key, _ = make_key(admin, vendor="google", vendor_key_id="pay-prod")

    import_billing_export(Actor(admin), google, upload(EXPORT))

    rows = DailySpend.objects.filter(connection=google)
    assert {row.vendor_project_id: row.key_id for row in rows} == {
        "pay-prod": key.pk,
        "search-dev": None,
    }
    # The spend pages read it per environment too.
    by_environment = spend_report(
        admin, NOV_1, NOV_2 + timedelta(days=1), "environment"
    )
    assert {row.group_id: row.cost_usd for row in by_environment.rows} == {
        key.environment_id: Decimal("3.83"),
        None: Decimal("1.00"),
    }


def test_a_local_currency_is_converted_with_the_exports_rate(admin, google):
    eur = {"currency": "EUR", "rate": "0.92"}
    local = export(
        line(FLASH_IN, "01 00:00:00", "92.00", "1000000", credits="-4.60", **eur),
        line(FLASH_OUT, "01 00:00:00", "9.20", "10000", **eur),
    )

    summary = import_billing_export(Actor(admin), google, upload(local))

    # (92.00 - 4.60) / 0.92 + 9.20 / 0.92
    assert stored(google) == {
        (NOV_1, "pay-prod", "gemini-2.5-flash"): (
            Decimal("96.60"),
            "EUR",
            Decimal("105"),
            1_000_000,
            0,
            10_000,
        )
    }
    assert (summary["amount"], summary["currency"]) == ("96.60", "EUR")


def test_a_local_currency_without_a_rate_is_kept_but_not_counted_in_usd(admin, google):
    no_rate = EXPORT.replace(",USD,1.0,", ",EUR,,")

    summary = import_billing_export(Actor(admin), google, upload(no_rate))

    costs = {row.cost_usd for row in DailySpend.objects.filter(connection=google)}
    assert costs == {None}
    assert (summary["amount"], summary["cost_usd"]) == ("4.83", None)


def test_the_day_is_the_utc_date_of_the_usage_start(admin, google):
    # An ISO time with an offset, in a file saved with a byte-order mark.
    text = export(line(FLASH_IN, "01T23:30:00-02:00", "1.00", "10"))
    import_billing_export(
        Actor(admin), google, upload("\ufeff" + text.replace(" UTC", ""))
    )

    assert list(stored(google)) == [(NOV_2, "pay-prod", "gemini-2.5-flash")]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (
            EXPORT.replace(",cost,", ",price,"),
            "Line 1: the export has no column cost.",
        ),
        (
            EXPORT.replace(",2.50,USD,", ",2,50,USD,"),
            "Line 3, column currency: 50 is not a currency code: use ISO 4217",
        ),
        (
            EXPORT.replace(",0.03,USD,", ",0.03 USD,USD,"),
            "Line 4, column cost: '0.03 USD' is not a number: write it with a dot "
            "for decimals, e.g. 12.34.",
        ),
        (
            EXPORT.replace("2025-11-01 23:00:00 UTC", "01/11/2025 23:00"),
            "Line 5, column usage_start_time: '01/11/2025 23:00' is not a date and "
            "time: use the export's format, e.g. 2025-11-01 07:00:00 UTC.",
        ),
        (
            EXPORT.replace(",-0.25,", ",minus a quarter,"),
            "Line 5, column credits: 'minus a quarter' is neither a number nor a "
            "list of credits with amounts.",
        ),
    ],
)
def test_a_bad_export_names_line_and_column_and_stores_nothing(
    admin, google, broken, message
):
    import_billing_export(Actor(admin), google, upload(EXPORT))
    before = stored(google)

    # Its good lines would change a stored day, if anything were stored.
    broken = broken.replace(",0.60,", ",9,")

    with pytest.raises(ValidationError) as refusal:
        import_billing_export(Actor(admin), google, upload(broken))

    assert message in " ".join(refusal.value.messages)
    assert stored(google) == before
    assert AuditEvent.objects.filter(action="billing_export.imported").count() == 1


def test_every_bad_line_is_listed_at_once(admin, google):
    broken = EXPORT.replace(",1.20,", ",x,").replace(",0.60,", ",y,")

    with pytest.raises(ValidationError) as refusal:
        import_billing_export(Actor(admin), google, upload(broken))

    assert refusal.value.messages == [
        "Line 2, column cost: 'x' is not a number: write it with a dot for "
        "decimals, e.g. 12.34.",
        "Line 7, column cost: 'y' is not a number: write it with a dot for "
        "decimals, e.g. 12.34. Fix these lines and upload the export again; "
        "nothing was imported.",
    ]
    assert DailySpend.objects.count() == 0


def test_an_export_without_gemini_lines_is_refused(admin, google):
    only_compute = "\n".join(
        line for line in EXPORT.splitlines() if "Gemini" not in line
    )

    with pytest.raises(ValidationError, match="holds no Gemini API"):
        import_billing_export(Actor(admin), google, upload(only_compute))


def test_an_empty_file_is_refused(admin, google):
    with pytest.raises(ValidationError, match="The file is empty"):
        import_billing_export(Actor(admin), google, upload(""))


def test_exports_go_into_google_connections_only(admin):
    deepseek = services.create_connection(
        Actor(admin),
        name="deepseek org",
        vendor="deepseek",
        admin_key=make_secret("deepseek"),
    )

    with pytest.raises(ValidationError, match="into a Google connection"):
        import_billing_export(Actor(admin), deepseek, upload(EXPORT))


@pytest.mark.parametrize("persona", ["finance", "engineer", "outsider"])
def test_only_admins_import_exports(people, google, persona):
    with pytest.raises(PermissionDenied):
        import_billing_export(Actor(people[persona]), google, upload(EXPORT))
    assert DailySpend.objects.count() == 0


@pytest.mark.parametrize(
    ("sku", "model"),
    [
        ("Gemini 2.5 Flash Input token count", "gemini-2.5-flash"),
        ("Gemini 2.5 Flash-Lite Output token count", "gemini-2.5-flash-lite"),
        ("Gemini 2.0 Flash Text Input - Predictions", "gemini-2.0-flash"),
        ("Gemini 1.5 Pro 002 Output (>128K)", "gemini-1.5-pro"),
        ("Generate content input token count Gemini 1.5 Flash", "gemini-1.5-flash"),
        ("Tax", "tax"),
        ("Input token count", ""),
    ],
)
def test_the_model_is_read_from_the_sku_description(sku, model):
    assert model_from_sku(sku) == model
