import pytest
from django.urls import reverse

from apps.catalog.models import ModelTier, PriceOverride
from conftest import PERSONAS

WRITE = {
    "admin": 302,
    "finance": 403,
    "engineer": 403,
    "outsider": 403,
    "anonymous": 302,
}
OVERRIDE = {
    "vendor": "qwen",
    "model": "qwen-max",
    "input_per_mtok": "2",
    "output_per_mtok": "6",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_model_list_by_persona(client_as, persona):
    response = client_as(persona).get(reverse("model-list"), {"q": "gpt-4o-mini"})
    if persona == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert "gpt-4o-mini" in {row.model for row in response.context["page"]}
    assert (response.context["form"] is not None) == (persona == "admin")
    assert (b'name="tier"' in response.content) == (persona == "admin")


@pytest.mark.parametrize("persona", PERSONAS)
def test_override_create_by_persona(client_as, persona):
    response = client_as(persona).post(reverse("override-create"), OVERRIDE)
    assert response.status_code == WRITE[persona]
    assert PriceOverride.objects.exists() == (persona == "admin")


@pytest.mark.parametrize("persona", PERSONAS)
def test_override_delete_by_persona(client_as, persona):
    override = PriceOverride.objects.create(
        vendor="qwen", model="qwen-max", input_per_mtok=2, output_per_mtok=6
    )
    url = reverse("override-delete", args=[override.pk])
    assert client_as(persona).post(url).status_code == WRITE[persona]
    assert PriceOverride.objects.exists() == (persona != "admin")


@pytest.mark.parametrize("persona", PERSONAS)
def test_tier_update_by_persona(client_as, persona):
    data = {"vendor": "openai", "model": "gpt-5.4", "tier": "standard"}
    response = client_as(persona).post(reverse("model-tier-update"), data)
    assert response.status_code == WRITE[persona]
    assert ModelTier.objects.exists() == (persona == "admin")


def test_override_shows_in_the_list_with_its_source(client_as):
    client = client_as("admin")
    client.post(reverse("override-create"), OVERRIDE)
    rows = list(client.get(reverse("model-list"), {"vendor": "qwen"}).context["page"])
    assert [(row.model, row.source) for row in rows] == [("qwen-max", "override")]


def test_invalid_override_keeps_what_was_typed(client_as):
    response = client_as("admin").post(
        reverse("override-create"), {**OVERRIDE, "output_per_mtok": "-1"}
    )
    assert response.status_code == 200
    assert 'value="qwen-max"' in response.content.decode()
    assert not PriceOverride.objects.exists()


def test_htmx_tier_change_returns_only_the_panel(client_as):
    response = client_as("admin").post(
        reverse("model-tier-update") + "?q=gpt-5.4",
        {"vendor": "openai", "model": "gpt-5.4", "tier": "economy"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="model-panel">')
    assert "<html" not in html
    row = next(r for r in response.context["page"] if r.model == "gpt-5.4")
    assert row.tier == "economy"


def test_model_list_query_count_does_not_grow(client_as, django_assert_num_queries):
    client = client_as("engineer")
    for n in range(3):
        PriceOverride.objects.create(
            vendor="qwen", model=f"qwen-{n}", input_per_mtok=1, output_per_mtok=2
        )
        ModelTier.objects.create(vendor="qwen", model=f"qwen-{n}", tier="economy")
    # session, user, overrides, tiers
    with django_assert_num_queries(4):
        client.get(reverse("model-list"))
