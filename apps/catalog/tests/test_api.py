import pytest

from apps.audit.models import AuditEvent
from apps.catalog.models import PriceOverride
from conftest import PERSONAS

URL = "/api/v1/models/"
PAYLOAD = {
    "vendor": "qwen",
    "model": "qwen-max",
    "input_per_mtok": "2",
    "output_per_mtok": "6",
    "effective_from": "2026-01-01",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_models_list_by_persona(api_as, persona):
    response = api_as(persona).get(URL, {"vendor": "openai", "model": "gpt-4o"})
    assert response.status_code == (401 if persona == "anonymous" else 200)
    if response.status_code == 200:
        [row] = response.json()["results"]
        assert row == {
            "id": None,
            "vendor": "openai",
            "model": "gpt-4o",
            "tier": "premium",
            "input_per_mtok": "2.500000",
            "cached_input_per_mtok": "1.250000",
            "cache_write_per_mtok": None,
            "output_per_mtok": "10.000000",
            "context_window": 128000,
            "effective_from": None,
            "source": "catalog",
        }


@pytest.mark.parametrize("persona", PERSONAS)
def test_override_create_by_persona(api_as, persona):
    response = api_as(persona).post(URL, PAYLOAD, format="json")
    expected = {"admin": 201, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected
    assert PriceOverride.objects.exists() == (persona == "admin")


@pytest.mark.parametrize("persona", PERSONAS)
def test_override_delete_by_persona(api_as, persona):
    override = PriceOverride.objects.create(
        vendor="qwen", model="qwen-max", input_per_mtok=2, output_per_mtok=6
    )
    response = api_as(persona).delete(f"{URL}{override.pk}/")
    expected = {"admin": 204, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected


def test_admin_creates_updates_and_deletes_an_override(api_as):
    api = api_as("admin")
    created = api.post(URL, PAYLOAD, format="json").json()
    assert created["source"] == "override" and created["tier"] == "standard"
    url = f"{URL}{created['id']}/"
    patched = api.patch(url, {"output_per_mtok": "12"}, format="json").json()
    assert patched["output_per_mtok"] == "12.000000"
    listed = api.get(URL, {"vendor": "qwen"}).json()["results"]
    assert [(row["id"], row["source"]) for row in listed] == [
        (created["id"], "override")
    ]
    assert api.delete(url).status_code == 204
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"model.override_created", "model.override_updated"} <= actions
    assert "model.override_deleted" in actions


def test_second_override_for_the_same_date_is_a_clear_400(api_as):
    api = api_as("admin")
    api.post(URL, PAYLOAD, format="json")
    response = api.post(URL, PAYLOAD, format="json")
    assert response.status_code == 400
    assert "already has an override" in response.json()["detail"]
