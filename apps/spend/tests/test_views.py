"""The overview and the explorer, per persona, with figures worked out by hand."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from apps.spend.query import today
from apps.spend.tests.conftest import FIRST_DAY
from apps.usage import rollups
from apps.usage.models import UsageBucket

PERSONAS = ["admin", "finance", "engineer", "outsider"]


@pytest.fixture
def this_month(spend_world):
    """Usage dated today: 2.50 on Payments' key, 4.00 on Search's, 1.25 unknown,
    and an unpriced model on Payments'."""
    day = today()
    connection = spend_world.connections["openai"]
    for vendor_key_id, model, cost in (
        ("key_pay_prod", "gpt-4o", "2.50"),
        ("key_search", "gpt-4o", "4.00"),
        ("key_nobody", "gpt-4o", "1.25"),
        ("key_pay_prod", "ft:custom", None),
    ):
        UsageBucket.objects.create(
            connection=connection,
            start=datetime.combine(day, time(0), UTC),
            width=3600,
            vendor_key_id=vendor_key_id,
            vendor_model=model,
            model=model,
            uncached_input=1000,
            output=100,
            requests=1,
            cost_usd=None if cost is None else Decimal(cost),
        )
    rollups.refresh(connection, [day])
    return spend_world


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_persona_opens_the_overview_and_the_explorer(
    this_month, client_as, persona
):
    client = client_as(persona)

    assert client.get("/spend/").status_code == 200
    assert client.get("/spend/explorer/").status_code == 200


@pytest.mark.parametrize("path", ["/spend/", "/spend/explorer/"])
def test_anonymous_visitors_are_sent_to_sign_in(client_as, db, path):
    answer = client_as("anonymous").get(path)

    assert answer.status_code == 302
    assert answer["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("persona", "month_to_date"), [("finance", "$7.75"), ("engineer", "$2.50")]
)
def test_the_overview_shows_month_to_date_spend_the_persona_may_see(
    this_month, client_as, persona, month_to_date
):
    page = client_as(persona).get("/spend/").content.decode()

    assert f'<p class="kpi">{month_to_date}</p>' in page


def test_finance_is_told_about_unattributed_and_unpriced_usage(this_month, client_as):
    page = client_as("finance").get("/spend/").content.decode()

    assert 'id="unattributed"' in page
    assert "$1.25 this month is <strong>unattributed</strong>" in page
    assert "1,100 tokens this month are <strong>unpriced</strong>" in page


def test_an_engineer_sees_no_other_team_and_no_unattributed_usage(
    this_month, client_as
):
    page = client_as("engineer").get("/spend/").content.decode()

    assert "Search" not in page
    assert 'id="unattributed"' not in page
    assert 'id="freshness"' not in page


def test_the_overview_reads_a_fixed_number_of_queries(
    this_month, client_as, django_assert_max_num_queries
):
    client = client_as("finance")
    with django_assert_max_num_queries(16):
        client.get("/spend/")


def explorer(client, **params):
    answer = client.get("/spend/explorer/", params)
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_explorer_groups_and_filters_as_asked(spend_world, client_as):
    page = explorer(
        client_as("finance"),
        start=FIRST_DAY,
        end=FIRST_DAY + timedelta(days=4),
        group_by="team",
        vendor="anthropic",
    )

    # Anthropic: 3.333333 + 0.05 on Search, 0.000123 on an unknown key.
    assert "$3.38" in page
    assert "Payments" not in page.split('id="spend-table"')[1]
    assert "unattributed" in page
    assert "format=csv" in page


def test_a_bad_period_keeps_what_was_typed_and_says_what_to_do(spend_world, client_as):
    page = explorer(
        client_as("finance"), start="2026-11-10", end="2026-11-03", group_by="model"
    )

    assert "end must be after start" in page
    assert 'value="2026-11-10"' in page
    assert 'value="2026-11-03"' in page
    assert "Correct the highlighted fields" in page


def test_htmx_gets_only_the_results(spend_world, client_as):
    answer = client_as("finance").get(
        "/spend/explorer/", {"group_by": "vendor"}, headers={"HX-Request": "true"}
    )

    page = answer.content.decode()
    assert page.lstrip().startswith('<section id="results">')
    assert "<html" not in page


def test_an_engineer_can_pick_only_their_teams(spend_world, client_as):
    page = explorer(client_as("engineer"))

    assert ">Payments</option>" in page
    assert ">Search</option>" not in page


def test_an_engineer_filtering_to_another_teams_project_sees_nothing(
    spend_world, client_as
):
    ranking = spend_world.projects["ranking"].pk
    page = explorer(
        client_as("engineer"),
        start=FIRST_DAY,
        end=FIRST_DAY + timedelta(days=4),
        group_by="key",
        project=ranking,
    )

    assert "No spend in this period with these filters" in page


def test_the_explorer_reads_a_fixed_number_of_queries(
    spend_world, client_as, django_assert_max_num_queries
):
    client = client_as("finance")
    for group_by in ("team", "key", "day"):
        with django_assert_max_num_queries(12):
            explorer(
                client,
                start=FIRST_DAY,
                end=FIRST_DAY + timedelta(days=4),
                group_by=group_by,
            )


def test_a_long_table_ends_in_one_line_for_the_rest(
    spend_world, client_as, monkeypatch
):
    monkeypatch.setattr("apps.spend.views.TABLE_ROWS", 2)
    page = explorer(
        client_as("finance"),
        start=FIRST_DAY,
        end=FIRST_DAY + timedelta(days=4),
        group_by="key",
    )

    table = page.split('id="spend-table"')[1]
    # Six keys spent: the two largest are shown, the other four summed.
    assert table.count("<tr>") == 1 + 2 + 1
    rest = table.split('id="spend-rest"')[1].split("</tr>")[0]
    assert "4 more" in rest
    # Shown: search claude 3.383333, search 2.25. The rest: pay stage 1.50,
    # key_nobody 0.75, pay prod 0.036645, apikey_nobody 0.000123.
    assert "$2.29" in rest
