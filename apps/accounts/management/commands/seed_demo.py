"""Fill an empty database with a small demo organization and print its logins."""

import os
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Role, Team, User
from apps.accounts.services import USER_FIELDS, create_team, create_user
from apps.audit.services import SYSTEM, Actor, record
from apps.connectors.models import Connection
from apps.connectors.services import create_connection
from apps.connectors.simulator import generate_admin_keys
from apps.connectors.simulator.org import SyntheticOrg
from apps.keyrequests import services as keyrequests
from apps.keyrequests.models import RequestState
from apps.projects.models import DEFAULT_MAX_TIER, EnvironmentKind, Project, Tier
from apps.projects.services import create_environment, create_project
from apps.vault.keyformats import sample_secret
from apps.vault.models import Vendor
from apps.vault.services import register_key, revoke_key, rotate_key

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

# (project slug, environment kind): days a key may live before it must be rotated
MAX_KEY_AGE_DAYS = {
    ("checkout-assistant", EnvironmentKind.PRODUCTION): 90,
    ("dispute-triage", EnvironmentKind.PRODUCTION): 90,
}


# `make run` starts `simulate_vendors` here; the demo connections read it.
DEFAULT_SIMULATOR_URL = "http://127.0.0.1:8765"
# The organization simulate_vendors serves by default (--seed 1). Some of its keys
# are in the demo vault, so their usage lands on projects; the others show as
# unknown keys and unattributed usage.
SIMULATED = SyntheticOrg(1)
SIMULATED_OPENAI = [key.id for key in SIMULATED.openai_keys]
SIMULATED_ANTHROPIC = [key.id for key in SIMULATED.anthropic_keys]
# An illustrative rate for the demo, not a quote: a real connection needs its own.
DEMO_USD_PER_CNY = Decimal("0.14")

# vendor, connection name, path after the simulator's URL, USD per balance unit
CONNECTIONS = [
    (Vendor.OPENAI, "OpenAI (simulated)", "", None),
    (Vendor.ANTHROPIC, "Anthropic (simulated)", "", None),
    (Vendor.DEEPSEEK, "DeepSeek (simulated)", "", DEMO_USD_PER_CNY),
    (Vendor.MOONSHOT, "Moonshot (simulated)", "", DEMO_USD_PER_CNY),
    # OpenRouter-style gateways publish their credits under /api/v1.
    (Vendor.OPENAI_COMPATIBLE, "Gateway (simulated)", "/api/v1", None),
]
DEMO_SYNC_MINUTES = 15


class DemoKey(NamedTuple):
    name: str
    project: str
    environment: str
    vendor: str
    owner: str
    allowed_models: tuple = ()
    monthly_cap_usd: Decimal | None = None
    expires_in: timedelta | None = None
    rotation_overlap_hours: int | None = None  # rotated once, with this overlap
    revoke_reason: str = ""
    vendor_key_id: str = ""
    rotated_vendor_key_id: str = ""  # the replacement's, when rotated


KEYS = [
    DemoKey(
        "checkout-prod-openai",
        "checkout-assistant",
        "production",
        Vendor.OPENAI,
        "priya",
        ("gpt-5.4", "gpt-5.4-mini"),
        Decimal("2000"),
        rotation_overlap_hours=7 * 24,
        vendor_key_id=SIMULATED_OPENAI[0],
        rotated_vendor_key_id=SIMULATED_OPENAI[3],
    ),
    DemoKey(
        "checkout-staging-openai",
        "checkout-assistant",
        "staging",
        Vendor.OPENAI,
        "priya",
        # Its simulated key also calls gpt-5.4: premium, and outside this list.
        ("gpt-5.4-mini",),
        Decimal("150"),
        vendor_key_id=SIMULATED_OPENAI[6],
    ),
    # Due in two and a half days: the dashboard shows it at the "3 days" step.
    DemoKey(
        "checkout-dev-anthropic",
        "checkout-assistant",
        "development",
        Vendor.ANTHROPIC,
        "omar",
        monthly_cap_usd=Decimal("25"),
        expires_in=timedelta(days=2, hours=12),
        vendor_key_id=SIMULATED_ANTHROPIC[1],
    ),
    DemoKey(
        "disputes-prod-anthropic",
        "dispute-triage",
        "production",
        Vendor.ANTHROPIC,
        "omar",
        ("claude-sonnet-4-5",),
        Decimal("1200"),
        vendor_key_id=SIMULATED_ANTHROPIC[4],
    ),
    DemoKey(
        "disputes-dev-deepseek",
        "dispute-triage",
        "development",
        Vendor.DEEPSEEK,
        "priya",
        ("deepseek-chat",),
        Decimal("20"),
        revoke_reason="Pasted into a public issue by mistake.",
    ),
    DemoKey(
        "search-prod-google",
        "semantic-search",
        "production",
        Vendor.GOOGLE,
        "sam",
        ("gemini-embedding-001",),
        Decimal("800"),
    ),
    DemoKey(
        "search-prod-openai",
        "semantic-search",
        "production",
        Vendor.OPENAI,
        "omar",
        ("gpt-5.4-mini", "text-embedding-3-small"),
        vendor_key_id=SIMULATED_OPENAI[1],
    ),
    DemoKey(
        "search-dev-deepseek", "semantic-search", "development", Vendor.DEEPSEEK, "sam"
    ),
    DemoKey(
        "emails-prod-openai",
        "lifecycle-emails",
        "production",
        Vendor.OPENAI,
        "gina",
        ("gpt-4o",),
        Decimal("300"),
        vendor_key_id=SIMULATED_OPENAI[2],
    ),
]


class DemoRequest(NamedTuple):
    requester: str
    project: str
    environment: str
    vendor: str
    allowed_models: tuple
    monthly_cap_usd: Decimal
    justification: str
    state: str  # where the admin leaves it: pending, rejected or issued
    reason: str = ""  # why it was rejected
    key_name: str = ""  # the issued key's name
    vendor_key_id: str = ""  # the issued key's


REQUESTS = [
    DemoRequest(
        "sam",
        "semantic-search",
        "staging",
        Vendor.GOOGLE,
        ("gemini-embedding-001",),
        Decimal("100"),
        "Compare Gemini embeddings with the current index before the re-index.",
        RequestState.PENDING,
    ),
    DemoRequest(
        "gina",
        "lifecycle-emails",
        "production",
        Vendor.ANTHROPIC,
        ("claude-sonnet-4-5",),
        Decimal("500"),
        "Compare Claude's drafts with the current ones on real sign-ups.",
        RequestState.REJECTED,
        reason="Comparisons belong in staging: request a staging key instead.",
    ),
    # Issued and not yet opened: priya's one-time view waits for her for 24 hours.
    DemoRequest(
        "priya",
        "dispute-triage",
        "staging",
        Vendor.ANTHROPIC,
        ("claude-haiku-4-5",),
        Decimal("100"),
        "Try the evidence summaries on anonymized disputes before release.",
        RequestState.ISSUED,
        key_name="disputes-staging-anthropic",
        vendor_key_id=SIMULATED_ANTHROPIC[7],
    ),
]


class Command(BaseCommand):
    help = (
        "Fill an empty database with a demo organization (teams, users of every "
        "role, projects and environments, a key vault, key requests and vendor "
        "connections to the simulator at KEYHOLD_SIMULATOR_URL, default "
        f"{DEFAULT_SIMULATOR_URL}) and print the logins. Idempotent."
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
            simulator_url = _simulator_url()
            self._refuse_conflicts()
            with transaction.atomic():
                counts = self._seed(simulator_url)
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
            *Connection.objects.filter(
                name__in=[connection[1] for connection in CONNECTIONS]
            ).values_list("name", flat=True),
        ]
        if taken:
            raise CommandError(
                "This database already holds names the demo uses "
                f"({', '.join(sorted(taken))}): seed an empty database instead."
            )

    def _seed(self, simulator_url: str) -> str:
        """Create the organization, its vault and connections; return their counts.

        1. The admin, directly: the services need an admin actor, and there is none
           yet. Its audit event is recorded as the system's.
        2. Everything else through the services, acting as that admin, except the
           key requests, which the engineers make themselves.
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
        users = {}
        for username, first_name, last_name, role, team_slugs in PEOPLE:
            users[username] = create_user(
                actor,
                password=None,
                teams=[teams[slug] for slug in team_slugs],
                username=username,
                first_name=first_name,
                last_name=last_name,
                email=f"{username}@example.com",
                role=role,
            )
            User.objects.filter(pk=users[username].pk).update(password=password_hash)

        environments = {}  # (project slug, environment name) -> Environment
        for team_slug, slug, name, description, tiers in PROJECTS:
            project = create_project(
                actor,
                team=teams[team_slug],
                name=name,
                slug=slug,
                description=description,
            )
            for kind in EnvironmentKind:
                environments[slug, kind.value] = create_environment(
                    actor,
                    project=project,
                    name=kind.value,
                    kind=kind,
                    max_tier=tiers.get(kind, DEFAULT_MAX_TIER[kind]),
                    max_key_age_days=MAX_KEY_AGE_DAYS.get((slug, kind)),
                )

        keys = [_seed_key(actor, spec, users, environments) for spec in KEYS]
        requests = [
            _seed_request(actor, spec, users, environments) for spec in REQUESTS
        ]
        keys += [key_request.key for key_request in requests if key_request.key]
        connections = _seed_connections(actor, simulator_url)
        return (
            f"{len(TEAMS)} teams, {len(PEOPLE) + 1} users, {len(PROJECTS)} projects, "
            f"{len(environments)} environments, {len(keys)} keys "
            f"({_tally(key.status for key in keys)}), {len(requests)} key requests "
            f"({_tally(key_request.state for key_request in requests)}), "
            f"{len(connections)} vendor connections to the simulator at "
            f"{simulator_url}"
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


def _simulator_url() -> str:
    url = os.environ.get("KEYHOLD_SIMULATOR_URL", "").strip() or DEFAULT_SIMULATOR_URL
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise CommandError(
            f"KEYHOLD_SIMULATOR_URL is not a URL ({url!r}): give the vendor "
            f"simulator's address, such as {DEFAULT_SIMULATOR_URL}."
        ) from None
    return url.rstrip("/")


def _seed_connections(actor: Actor, simulator_url: str) -> list[Connection]:
    """Connect every vendor the simulator serves, each with a fresh admin key.

    The keys live only in the vault: `simulate_vendors --demo-connections`
    reads them from there.
    """
    admin_keys = generate_admin_keys()
    return [
        create_connection(
            actor,
            vendor=vendor,
            name=name,
            base_url=simulator_url + path,
            admin_key=admin_keys[vendor],
            sync_interval_minutes=DEMO_SYNC_MINUTES,
            usd_per_unit=usd_per_unit,
        )
        for vendor, name, path, usd_per_unit in CONNECTIONS
    ]


def _seed_key(actor: Actor, spec: DemoKey, users, environments):
    """Register one demo key as the admin, then rotate or revoke it if it says so."""
    environment = environments[spec.project, spec.environment]
    expires_at = timezone.now() + spec.expires_in if spec.expires_in else None
    key = register_key(
        actor,
        secret=sample_secret(spec.vendor),
        name=spec.name,
        vendor=spec.vendor,
        project=environment.project,
        environment=environment,
        owner=users[spec.owner],
        vendor_key_id=spec.vendor_key_id,
        allowed_models=spec.allowed_models,
        monthly_cap_usd=spec.monthly_cap_usd,
        expires_at=expires_at,
    )
    if spec.rotation_overlap_hours is not None:
        rotate_key(
            actor,
            key,
            secret=sample_secret(spec.vendor),
            vendor_key_id=spec.rotated_vendor_key_id,
            overlap_hours=spec.rotation_overlap_hours,
        )
    if spec.revoke_reason:
        revoke_key(actor, key, reason=spec.revoke_reason)
    return key


def _seed_request(admin: Actor, spec: DemoRequest, users, environments):
    """Make one request as its engineer, then let the admin decide it as it says."""
    environment = environments[spec.project, spec.environment]
    key_request = keyrequests.create_request(
        Actor(user=users[spec.requester]),
        project=environment.project,
        environment=environment,
        vendor=spec.vendor,
        allowed_models=spec.allowed_models,
        monthly_cap_usd=spec.monthly_cap_usd,
        justification=spec.justification,
    )
    if spec.state == RequestState.REJECTED:
        keyrequests.reject(admin, key_request, reason=spec.reason)
    elif spec.state == RequestState.ISSUED:
        keyrequests.approve(admin, key_request)
        keyrequests.issue(
            admin,
            key_request,
            secret=sample_secret(spec.vendor),
            name=spec.key_name,
            vendor_key_id=spec.vendor_key_id,
        )
    return key_request


def _tally(values) -> str:
    """'9 active, 1 revoked': how many of each value, most common first."""
    counts = Counter(values).most_common()
    return ", ".join(f"{count} {value}" for value, count in counts)
