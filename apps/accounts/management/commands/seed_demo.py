"""Fill an empty database with a small demo organization and print its logins."""

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.models import Role, Team, User
from apps.accounts.services import USER_FIELDS, create_team, create_user
from apps.audit.services import SYSTEM, Actor, record
from apps.projects.models import DEFAULT_MAX_TIER, EnvironmentKind, Project, Tier
from apps.projects.services import create_environment, create_project

# Published in the README and printed on every run: never use them for real people.
DEMO_PASSWORD = "keyhold-demo"  # noqa: S105  (a demo password, public by design)

ADMIN = {"username": "admin", "first_name": "Ada", "last_name": "Lindqvist"}

TEAMS = {"payments": "Payments", "search": "Search", "growth": "Growth"}

# username, first name, last name, role, team slugs
PEOPLE = [
    ("fiona", "Fiona", "Marsh", Role.FINANCE, []),
    ("priya", "Priya", "Raman", Role.ENGINEER, ["payments"]),
    ("omar", "Omar", "Haddad", Role.ENGINEER, ["payments", "search"]),
    ("sam", "Sam", "Okafor", Role.ENGINEER, ["search"]),
    ("gina", "Gina", "Ferreira", Role.ENGINEER, ["growth"]),
]

USERNAMES = [ADMIN["username"], *(person[0] for person in PEOPLE)]

# team slug, project slug, name, description, tiers that differ from the defaults
PROJECTS = [
    (
        "payments",
        "checkout-assistant",
        "Checkout Assistant",
        "Answers shoppers' questions during checkout.",
        {},
    ),
    (
        "payments",
        "dispute-triage",
        "Dispute Triage",
        "Summarizes chargeback evidence for the disputes desk.",
        {},
    ),
    (
        "search",
        "semantic-search",
        "Semantic Search",
        "Embeddings and re-ranking for the product catalog.",
        # Embeddings and re-ranking never need a premium model, even in production.
        {EnvironmentKind.PRODUCTION: Tier.STANDARD},
    ),
    (
        "growth",
        "lifecycle-emails",
        "Lifecycle Emails",
        "Drafts onboarding and win-back emails for review.",
        {EnvironmentKind.PRODUCTION: Tier.STANDARD},
    ),
]


class Command(BaseCommand):
    help = (
        "Fill an empty database with a demo organization (teams, users of every "
        "role, projects and environments) and print the logins. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="seed even though DEBUG is off (the demo passwords are public)",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off: seed_demo creates users with published passwords. "
                "Run it with DEBUG=true, or pass --force to seed this database anyway."
            )
        if User.objects.filter(username=ADMIN["username"], role=Role.ADMIN).exists():
            self.stdout.write("The demo organization already exists; nothing changed.")
        else:
            self._refuse_conflicts()
            with transaction.atomic():
                counts = self._seed()
            self.stdout.write(
                self.style.SUCCESS(f"Created the demo organization: {counts}")
            )
        self._print_logins()

    def _refuse_conflicts(self):
        taken = [
            *User.objects.filter(username__in=USERNAMES).values_list(
                "username", flat=True
            ),
            *Team.objects.filter(slug__in=TEAMS).values_list("slug", flat=True),
            *Project.objects.filter(
                slug__in=[project[1] for project in PROJECTS]
            ).values_list("slug", flat=True),
        ]
        if taken:
            raise CommandError(
                "This database already holds names the demo uses "
                f"({', '.join(sorted(taken))}): seed an empty database instead."
            )

    def _seed(self) -> str:
        """Create the organization; return a one-line count of what was made.

        1. The admin, directly: the services need an admin actor, and there is none
           yet. Its audit event is recorded as the system's.
        2. Everything else through the services, acting as that admin.
        """
        # Hashing is slow on purpose; every demo user shares one hash of one password.
        password_hash = make_password(DEMO_PASSWORD)
        admin = User.objects.create(
            password=password_hash, email="ada@example.com", role=Role.ADMIN, **ADMIN
        )
        fields = {name: getattr(admin, name) for name in USER_FIELDS}
        record(SYSTEM, "user.created", admin, **fields, source="seed_demo")
        actor = Actor(user=admin)

        teams = {
            slug: create_team(actor, name=name, slug=slug)
            for slug, name in TEAMS.items()
        }
        for username, first_name, last_name, role, team_slugs in PEOPLE:
            person = create_user(
                actor,
                password=None,
                teams=[teams[slug] for slug in team_slugs],
                username=username,
                first_name=first_name,
                last_name=last_name,
                email=f"{username}@example.com",
                role=role,
            )
            User.objects.filter(pk=person.pk).update(password=password_hash)

        environments = 0
        for team_slug, slug, name, description, tiers in PROJECTS:
            project = create_project(
                actor,
                team=teams[team_slug],
                name=name,
                slug=slug,
                description=description,
            )
            for kind in EnvironmentKind:
                create_environment(
                    actor,
                    project=project,
                    name=kind.value,
                    kind=kind,
                    max_tier=tiers.get(kind, DEFAULT_MAX_TIER[kind]),
                )
                environments += 1
        return (
            f"{len(TEAMS)} teams, {len(PEOPLE) + 1} users, {len(PROJECTS)} projects, "
            f"{environments} environments"
        )

    def _print_logins(self):
        users = User.objects.filter(username__in=USERNAMES).prefetch_related("teams")
        rows = [("username", "password", "role", "teams")]
        rows += [
            (
                user.username,
                DEMO_PASSWORD,
                user.effective_role,
                ", ".join(team.name for team in user.teams.all()) or "-",
            )
            for user in sorted(users, key=_login_order)
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        self.stdout.write("\nDemo logins (passwords as seeded):")
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  " + "  ".join(cells).rstrip())


def _login_order(user) -> tuple:
    """Admin first, then finance, then engineers, each by username."""
    return (list(Role).index(user.effective_role), user.username)
