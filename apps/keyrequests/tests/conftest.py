from decimal import Decimal

import pytest

from apps.audit.services import Actor
from apps.keyrequests import services
from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory
from apps.vault.tests.conftest import (  # noqa: F401
    anthropic_org,
    instant_retries,
    openai_org,
    simulator,
)


@pytest.fixture
def project(team):
    return ProjectFactory(team=team, name="Checkout", slug="checkout")


@pytest.fixture
def staging(project):
    return EnvironmentFactory(project=project, name="staging", kind="staging")


@pytest.fixture
def other_project(other_team):
    return ProjectFactory(team=other_team, name="Ranking", slug="ranking")


@pytest.fixture
def other_staging(other_project):
    return EnvironmentFactory(project=other_project, name="staging", kind="staging")


@pytest.fixture
def make_request(staging):
    """Return a maker of pending requests, by default the engineer's in staging."""

    def make(requester, environment=None, **fields):
        environment = environment or staging
        values = {
            "vendor": "openai",
            "monthly_cap_usd": Decimal("50.00"),
            "justification": "Fraud scoring experiments",
            "allowed_models": ["gpt-4o-mini"],
            **fields,
        }
        return services.create_request(
            Actor(requester),
            project=environment.project,
            environment=environment,
            **values,
        )

    return make


@pytest.fixture
def pending(make_request, engineer):
    return make_request(engineer)


@pytest.fixture
def approved(pending, admin):
    return services.approve(Actor(admin), pending)
