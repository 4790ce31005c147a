"""What operators and their tools see: /healthz, /metrics and the security headers."""

import socket

import pytest
from django.urls import reverse

from console.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_broker(monkeypatch):
    """Point the Celery app at a port where nothing listens, for one test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    # Celery lets the environment variable win over its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    return url


def test_healthz_reports_database_and_broker_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_and_names_the_broker_when_it_is_down(client, dead_broker):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"].startswith("unreachable")


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405


def test_metrics_answer_in_prometheus_text_format(client):
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert "# TYPE django_http_requests_total_by_view_transport_method_total" in body
    assert 'view="healthz"' in body


def test_pages_send_the_security_headers(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    directives = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
        if directive.strip()
    )
    assert directives["script-src"] == "'self'"
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
