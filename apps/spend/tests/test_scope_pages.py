"""The team, project, key, caching and reconciliation pages, tried by every persona,
with the figures they show computed by hand from the fixture's buckets."""

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from apps.audit.services import Actor
from apps.catalog.models import PriceOverride
from apps.catalog.pricing import catalog_prices
from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory
from apps.spend.templatetags.spend import percent, usd
from apps.spend.tests.conftest import FIRST_DAY
from apps.usage import rollups
from apps.usage.models import ReportedCost, UsageBucket
from apps.vault import services as vault
from apps.vault.tests.factories import make_key, make_secret
from conftest import PERSONAS

# Midday on the fixture's last day: this month holds every bucket.
NOW = datetime.combine(FIRST_DAY + timedelta(days=3), datetime.min.time(), UTC) + (
    timedelta(hours=12)
)
# Midday on its second day: the last 48 hours hold all of "pay prod"'s buckets.
EARLY = datetime.combine(FIRST_DAY + timedelta(days=1), datetime.min.time(), UTC) + (
    timedelta(hours=12)
)
MTOK = Decimal(1_000_000)
# A page of the Payments team's (the engineer's) and one of the Search team's.
MINE = {"admin": 200, "finance": 200, "engineer": 200, "outsider": 404}
THEIRS = {"admin": 200, "finance": 200, "engineer": 404, "outsider": 200}
EVERYONE = {"admin": 200, "finance": 200, "engineer": 200, "outsider": 200}
FINANCE = {"admin": 200, "finance": 200, "engineer": 403, "outsider": 403}


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Fix the time at NOW; tests that need another moment call ``clock(moment)``."""

    def set_to(moment):
        monkeypatch.setattr("django.utils.timezone.now", lambda: moment)

    set_to(NOW)
    return set_to


def expect_status(response, persona, expected):
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == expected[persona]


def rows_in(response, element_id):
    """The text of each table row inside the element with ``element_id``."""
    html = response.content.decode()
    start = html.index(f'id="{element_id}"')
    table = html[start : html.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in rows
    ]


def row_named(rows, *names):
    found = [row for row in rows if row[: len(names)] == list(names)]
    assert len(found) == 1, (names, rows)
    return found[0]


def cost(buckets):
    return sum((b.cost_usd or 0 for b in buckets), Decimal(0))


def unpriced(buckets):
    return sum(
        b.uncached_input + b.cache_read + b.cache_write_5m + b.cache_write_1h + b.output
        for b in buckets
        if b.cost_usd is None
    )


def add_bucket(world, vendor, vendor_key_id, model, start, **counts):
    """One more bucket, rolled up as a sync would."""
    bucket = UsageBucket.objects.create(
        connection=world.connections[vendor],
        start=start,
        width=3600,
        vendor_key_id=vendor_key_id,
        vendor_model=model,
        model=model,
        **counts,
    )
    world.buckets.append(bucket)
    rollups.refresh(world.connections[vendor], [start.date()])
    return bucket


# The team page.


@pytest.mark.parametrize("persona", PERSONAS)
def test_team_page_by_persona(spend_world, client_as, persona):
    client = client_as(persona)
    for team, expected in (("payments", MINE), ("search", THEIRS)):
        url = reverse("spend-team", args=[spend_world.teams[team].pk])
        expect_status(client.get(url), persona, expected)


def test_team_page_shows_this_months_spend_per_project_and_key(spend_world, client_as):
    payments = [b for b in spend_world.buckets if b.vendor_key_id.startswith("key_pay")]
    prod = [b for b in payments if b.vendor_key_id == "key_pay_prod"]
    stage = [b for b in payments if b.vendor_key_id == "key_pay_stage"]

    response = client_as("engineer").get(
        reverse("spend-team", args=[spend_world.teams["payments"].pk])
    )

    assert f'<p class="kpi">{usd(cost(payments))}</p>' in response.content.decode()
    checkout = row_named(rows_in(response, "by-project"), "Checkout")
    assert checkout[3] == f"{usd(cost(payments))} + {unpriced(payments)} unpriced"
    assert checkout[4] == "100.0%"
    keys = rows_in(response, "by-key")
    assert row_named(keys, "pay prod")[3] == usd(cost(prod))
    assert row_named(keys, "pay stage")[3].startswith(usd(cost(stage)))
    assert "Search" not in response.content.decode()


def test_team_page_lists_projects_that_spent_nothing(spend_world, client_as):
    ProjectFactory(team=spend_world.teams["payments"], name="Refunds")

    response = client_as("finance").get(
        reverse("spend-team", args=[spend_world.teams["payments"].pk])
    )

    assert row_named(rows_in(response, "by-project"), "Refunds")[3] == "$0.00"


def test_team_page_shows_last_month_once_it_is_over(spend_world, client_as, clock):
    clock(datetime(2026, 12, 3, 9, tzinfo=UTC))
    search = [b for b in spend_world.buckets if "search" in b.vendor_key_id]

    response = client_as("outsider").get(
        reverse("spend-team", args=[spend_world.teams["search"].pk])
    )

    page = response.content.decode()
    this_month, last_month = (
        page.index('id="this-month"'),
        page.index('id="last-month"'),
    )
    assert '<p class="kpi">$0.00</p>' in page[this_month:last_month]
    assert f'<p class="kpi">{usd(cost(search))}</p>' in page[last_month:]
    assert "No spend this month." in page


def test_team_page_links_into_the_explorer_filtered_to_the_team(spend_world, client_as):
    team = spend_world.teams["payments"]

    response = client_as("engineer").get(reverse("spend-team", args=[team.pk]))

    assert f"group_by=key&amp;team={team.pk}" in response.content.decode()


def test_team_page_query_count_does_not_grow_with_projects_and_keys(
    spend_world, client_as, admin, django_assert_max_num_queries
):
    client = client_as("engineer")
    team = spend_world.teams["payments"]
    url = reverse("spend-team", args=[team.pk])
    for batch in range(2):
        for n in range(3):
            environment = EnvironmentFactory(project=ProjectFactory(team=team))
            vendor_key_id = f"key_more_{batch}_{n}"
            make_key(admin, environment=environment, vendor_key_id=vendor_key_id)
            add_bucket(
                spend_world, "openai", vendor_key_id, "gpt-4o", NOW,
                uncached_input=10, cost_usd=Decimal("0.01"),
            )  # fmt: skip
        # session, user, team, daily costs, the project, environment and key
        # reports with their names, the model report, the team's projects
        with django_assert_max_num_queries(12):
            assert client.get(url).status_code == 200


# The project page.


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_page_by_persona(spend_world, client_as, persona):
    client = client_as(persona)
    for project, expected in (("checkout", MINE), ("ranking", THEIRS)):
        url = reverse("spend-project", args=[spend_world.projects[project].pk])
        expect_status(client.get(url), persona, expected)


def test_project_page_shows_each_environment_with_its_kind_and_tier(
    spend_world, client_as
):
    prod = [b for b in spend_world.buckets if b.vendor_key_id == "key_pay_prod"]
    stage = [b for b in spend_world.buckets if b.vendor_key_id == "key_pay_stage"]

    response = client_as("engineer").get(
        reverse("spend-project", args=[spend_world.projects["checkout"].pk])
    )

    environments = rows_in(response, "by-environment")
    assert row_named(environments, "production", "Production", "Standard")[5] == (
        usd(cost(prod))
    )
    staging = row_named(environments, "staging", "Staging", "Standard")
    assert staging[5] == f"{usd(cost(stage))} + {unpriced(stage)} unpriced"
    models = rows_in(response, "by-model")
    gpt_4o = [b for b in prod + stage if b.model == "gpt-4o"]
    assert row_named(models, "gpt-4o")[3] == usd(cost(gpt_4o))


# The key page.


@pytest.mark.parametrize("persona", PERSONAS)
def test_key_page_by_persona(spend_world, client_as, persona):
    client = client_as(persona)
    for key, expected in (("pay prod", MINE), ("search claude", THEIRS)):
        url = reverse("spend-key", args=[spend_world.keys[key].pk])
        expect_status(client.get(url), persona, expected)


def test_key_page_shows_cost_per_day_and_model(spend_world, client_as):
    key = spend_world.keys["pay prod"]
    mine = [b for b in spend_world.buckets if b.vendor_key_id == "key_pay_prod"]
    per_day = defaultdict(Decimal)
    for bucket in mine:
        per_day[(bucket.start.date().isoformat(), bucket.model)] += bucket.cost_usd

    response = client_as("engineer").get(reverse("spend-key", args=[key.pk]))

    daily = rows_in(response, "daily-table")[1:]
    assert {(row[0], row[1]): row[7] for row in daily} == {
        group: usd(amount) for group, amount in per_day.items()
    }
    assert f'<p class="kpi">{usd(cost(mine))}</p>' in response.content.decode()


def test_key_page_shows_the_last_48_hours_per_hour_and_model(
    spend_world, client_as, clock
):
    clock(EARLY)
    key = spend_world.keys["pay prod"]
    mine = [b for b in spend_world.buckets if b.vendor_key_id == "key_pay_prod"]

    response = client_as("engineer").get(reverse("spend-key", args=[key.pk]))

    hourly = rows_in(response, "hourly-table")[1:]
    assert [(row[0], row[1], row[2], row[3]) for row in hourly] == [
        (
            f"{b.start:%Y-%m-%d %H:%M}",
            b.model,
            f"{b.uncached_input:,}",
            f"{b.cache_read:,}",
        )
        for b in sorted(mine, key=lambda b: b.start, reverse=True)
    ]


def test_key_page_counts_a_rotated_keys_older_vendor_ids(
    spend_world, client_as, clock, admin
):
    clock(EARLY)
    key = spend_world.keys["pay prod"]
    vault.rotate_key(
        Actor(admin), key, secret=make_secret(), vendor_key_id="key_pay_prod_2"
    )
    later = add_bucket(
        spend_world, "openai", "key_pay_prod_2", "gpt-4o", EARLY - timedelta(hours=1),
        uncached_input=77, output=7, cost_usd=Decimal("0.5"),
    )  # fmt: skip
    # Another vendor's key may carry the same id: it is not this key's usage.
    add_bucket(
        spend_world, "anthropic", "key_pay_prod", "claude-haiku-4-5", later.start,
        uncached_input=999, cost_usd=Decimal("9"),
    )  # fmt: skip

    response = client_as("engineer").get(reverse("spend-key", args=[key.pk]))

    hourly = rows_in(response, "hourly-table")[1:]
    assert [row[1] for row in hourly] == ["gpt-4o", "gpt-4o-mini", "gpt-4o", "gpt-4o"]
    assert hourly[0][2] == "77"
    page = response.content.decode()
    assert "key_pay_prod</span>, <span" in page and "key_pay_prod_2" in page


def test_key_page_shows_the_hint_and_never_the_secret(spend_world, client_as, admin):
    secret = make_secret()
    key = spend_world.keys["pay prod"]
    vault.rotate_key(Actor(admin), key, secret=secret, vendor_key_id="key_pay_prod")
    key.refresh_from_db()

    response = client_as("admin").get(reverse("spend-key", args=[key.pk]))

    assert key.hint in response.content.decode()
    assert secret not in response.content.decode()


def test_key_page_says_when_a_key_has_no_usage(spend_world, client_as, clock):
    clock(datetime(2027, 3, 1, tzinfo=UTC))
    key = spend_world.keys["pay prod"]

    response = client_as("engineer").get(reverse("spend-key", args=[key.pk]))

    assert "No usage on this key in the last 30 days." in response.content.decode()
    assert "No usage reported for this key since" in response.content.decode()


def test_key_detail_links_to_its_usage_and_cost(spend_world, client_as):
    key = spend_world.keys["pay prod"]

    response = client_as("engineer").get(reverse("key-detail", args=[key.pk]))

    assert reverse("spend-key", args=[key.pk]) in response.content.decode()


# The caching page.


def catalog_price(vendor, model):
    return next(p for p in catalog_prices() if (p.vendor, p.model) == (vendor, model))


def expected_savings(world, vendor_key_id, model, target):
    """(saved, potential) for one key and model, from the buckets and the catalog."""
    buckets = [
        b for b in world.buckets if (b.vendor_key_id, b.model) == (vendor_key_id, model)
    ]
    prices = catalog_price(buckets[0].connection.vendor, model)
    discount = prices.input_per_mtok - prices.cached_input_per_mtok
    cache_read = sum(b.cache_read for b in buckets)
    total_input = sum(
        b.uncached_input + b.cache_read + b.cache_write_5m + b.cache_write_1h
        for b in buckets
    )
    saved = cache_read * discount / MTOK
    potential = max(Decimal(0), target * total_input - cache_read) * discount / MTOK
    return saved, potential


@pytest.fixture
def heavy_caching(spend_world):
    """Enough cached gpt-4o traffic on "pay prod" for savings worth a cent."""
    return add_bucket(
        spend_world, "openai", "key_pay_prod", "gpt-4o",
        datetime.combine(FIRST_DAY + timedelta(days=2), datetime.min.time(), UTC),
        uncached_input=10_000_000, cache_read=2_000_000, output=50_000,
        cost_usd=Decimal("27.50"),
    )  # fmt: skip


# Engineers see their teams' keys; usage on keys nobody registered only finance does.
EVERY_KEY = {"pay prod", "pay stage", "search", "search claude"}
CACHING_KEYS = {
    "admin": EVERY_KEY | {"key_nobody", "apikey_nobody"},
    "finance": EVERY_KEY | {"key_nobody", "apikey_nobody"},
    "engineer": {"pay prod", "pay stage"},
    "outsider": {"search", "search claude"},
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_caching_page_by_persona(spend_world, client_as, persona):
    response = client_as(persona).get(reverse("spend-caching"))

    expect_status(response, persona, EVERYONE)
    if persona != "anonymous":
        keys = {row[0] for row in rows_in(response, "caching-table")[1:]}
        assert keys == CACHING_KEYS[persona]


def test_caching_page_shows_savings_computed_from_catalog_prices(
    spend_world, heavy_caching, client_as
):
    saved, potential = expected_savings(
        spend_world, "key_pay_prod", "gpt-4o", Decimal("0.5")
    )

    response = client_as("engineer").get(reverse("spend-caching"))

    rows = rows_in(response, "caching-table")[1:]
    # The largest potential saving comes first.
    assert rows[0][:2] == ["pay prod", "gpt-4o"]
    assert rows[0][5] == percent(Decimal(2_000_200) * 100 / 12_003_200)
    assert rows[0][7:] == [usd(saved), usd(potential)]
    assert usd(saved) == "$2.50"
    assert "today's catalog prices" in response.content.decode()


def test_caching_target_changes_the_potential_saving(
    spend_world, heavy_caching, client_as
):
    _, potential = expected_savings(
        spend_world, "key_pay_prod", "gpt-4o", Decimal("0.8")
    )

    response = client_as("finance").get(reverse("spend-caching"), {"target": "80"})

    row = row_named(rows_in(response, "caching-table"), "pay prod", "gpt-4o")
    assert row[8] == usd(potential)
    assert "More at a 80% cache-read share" in response.content.decode()


def test_caching_page_names_models_without_a_price_or_a_discount(
    spend_world, client_as
):
    PriceOverride.objects.create(
        vendor="openai",
        model="gpt-4o-mini",
        input_per_mtok=Decimal("0.15"),
        output_per_mtok=Decimal("0.6"),
    )

    response = client_as("engineer").get(reverse("spend-caching"))

    rows = rows_in(response, "caching-table")
    assert row_named(rows, "pay stage", "ft:custom")[6] == "unpriced"
    assert row_named(rows, "pay prod", "gpt-4o-mini")[6] == "no cache discount"


@pytest.mark.parametrize("target", ["0", "96", "half", "NaN"])
def test_caching_page_refuses_a_bad_target_keeping_what_was_typed(
    spend_world, client_as, target
):
    response = client_as("engineer").get(reverse("spend-caching"), {"target": target})

    assert response.status_code == 200
    page = response.content.decode()
    assert "target must be a percentage from 1 to 95" in page
    assert f'name="target" id="id_target" value="{target}"' in page
    assert 'id="caching-table"' not in page


def test_caching_form_swaps_with_its_errors_under_htmx(spend_world, client_as):
    response = client_as("engineer").get(
        reverse("spend-caching"), {"target": "200"}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert page.lstrip().startswith('<section id="results">')
    assert 'value="200"' in page and "from 1 to 95" in page


def test_caching_page_refuses_a_bad_period(spend_world, client_as):
    response = client_as("engineer").get(
        reverse("spend-caching"), {"start": "2026-11-31"}
    )

    assert "start must be a date as YYYY-MM-DD" in response.content.decode()
    assert 'value="2026-11-31"' in response.content.decode()


def test_caching_period_is_start_inclusive_end_exclusive(spend_world, client_as):
    response = client_as("engineer").get(
        reverse("spend-caching"),
        {"start": FIRST_DAY.isoformat(), "end": (FIRST_DAY + timedelta(1)).isoformat()},
    )

    rows = rows_in(response, "caching-table")[1:]
    assert [(row[0], row[1]) for row in rows] == [("pay prod", "gpt-4o")]


# The reconciliation page.


@pytest.mark.parametrize("persona", PERSONAS)
def test_reconciliation_page_by_persona(spend_world, client_as, persona):
    response = client_as(persona).get(reverse("spend-reconciliation"))

    expect_status(response, persona, FINANCE)


def test_reconciliation_shows_drift_per_day_and_connection(spend_world, client_as):
    openai = spend_world.connections["openai"]
    ReportedCost.objects.create(
        connection=openai, day=FIRST_DAY, amount=Decimal("0.80"), currency="USD"
    )
    buckets = [b for b in spend_world.buckets if b.connection == openai]
    first_day = cost(b for b in buckets if b.start.date() == FIRST_DAY)
    drift = first_day - Decimal("0.80")

    response = client_as("finance").get(reverse("spend-reconciliation"))

    rows = rows_in(response, f"connection-{openai.pk}")
    day = row_named(rows, FIRST_DAY.isoformat())
    assert day[1:5] == [
        usd(first_day),
        "$0.80",
        usd(drift),
        percent(drift * 100 / Decimal("0.80")),
    ]
    total = row_named(rows, "Total")
    assert total[1:4] == [usd(cost(buckets)), "$0.80", usd(drift)]
    anthropic = rows_in(
        response, f"connection-{spend_world.connections['anthropic'].pk}"
    )
    assert row_named(anthropic, "Total")[2] == "nothing reported"


def test_reconciliation_says_when_nothing_is_in_the_period(spend_world, client_as):
    response = client_as("admin").get(
        reverse("spend-reconciliation"), {"start": "2026-01-01", "end": "2026-02-01"}
    )

    assert "No connection has usage" in response.content.decode()


def test_only_admins_and_finance_see_the_reconciliation_link(spend_world, client_as):
    url = reverse("spend-reconciliation")

    assert url in client_as("finance").get(reverse("spend-caching")).content.decode()
    assert (
        url not in client_as("engineer").get(reverse("spend-caching")).content.decode()
    )
