import pytest

from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory


@pytest.fixture
def project(team):
    return ProjectFactory(team=team, name="Checkout", slug="checkout")


@pytest.fixture
def other_project(other_team):
    return ProjectFactory(team=other_team, name="Ranking", slug="ranking")


@pytest.fixture
def staging(project):
    return EnvironmentFactory(project=project, name="staging", kind="staging")
