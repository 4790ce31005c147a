import pytest

from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory


@pytest.fixture
def payments_env(team):
    """Staging of the project Checkout, owned by the engineer's team Payments."""
    project = ProjectFactory(team=team, name="Checkout", slug="checkout")
    return EnvironmentFactory(project=project, name="staging", kind="staging")


@pytest.fixture
def search_env(other_team):
    """Production of the project Ranking, owned by the outsider's team Search."""
    project = ProjectFactory(team=other_team, name="Ranking", slug="ranking")
    return EnvironmentFactory(project=project, name="production", kind="production")
