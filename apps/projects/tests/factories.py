import factory

from apps.accounts.tests.factories import TeamFactory
from apps.projects.models import Environment, EnvironmentKind, Project, Tier


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class EnvironmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Environment

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"env-{n}")
    kind = EnvironmentKind.STAGING
    max_tier = Tier.STANDARD
