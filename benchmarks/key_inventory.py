"""How fast the key inventory answers as the vault grows.

Fills a database with N keys (default 500,000) spread over teams, projects,
environments, owners, vendors and statuses, then times the inventory page and the
keys API for the common filters, signed in as an admin and as an engineer.

    createdb -h 127.0.0.1 -U postgres keyhold_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keyhold_bench \
        .venv/bin/python benchmarks/key_inventory.py --keys 500000

The database is migrated and, when it holds fewer keys than asked, topped up; keys
are inserted directly (no encryption), since only the listing is measured.
"""

import argparse
import random
import statistics
import time
from datetime import timedelta

import django_setup  # noqa: F401  (sets up Django before the imports below)
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Membership, Role, Team, User
from apps.projects.models import Environment, Project
from apps.vault.models import KeyStatus, Vendor, VendorKey

TEAMS, PROJECTS_PER_TEAM, ENGINEERS = 20, 10, 200
BATCH = 5000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    admin, engineer = _people()
    _fill(args.keys)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    print(f"database: {connection.vendor}, keys: {VendorKey.objects.count():,}")
    team = engineer.teams.first()
    cases = [
        ("page, no filter", "/keys/", {}),
        ("page, vendor=anthropic", "/keys/", {"vendor": "anthropic"}),
        ("page, status=revoked", "/keys/", {"status": "revoked"}),
        ("page, team filter", "/keys/", {"team": team.pk}),
        ("page, search hint", "/keys/", {"q": "…7f3a"}),
        ("page, page 200", "/keys/", {"page": 200}),
        ("api, no filter", "/api/v1/keys/", {}),
        (
            "api, vendor+status",
            "/api/v1/keys/",
            {"vendor": "openai", "status": "active"},
        ),
    ]
    print(f"{'case':32} {'who':9} {'median ms':>9} {'p95 ms':>8} {'queries':>7}")
    for who, user in (("admin", admin), ("engineer", engineer)):
        client = Client()
        client.force_login(user)
        for label, url, params in cases:
            timings, queries = _time(client, url, params, args.repeat)
            p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
            print(
                f"{label:32} {who:9} {statistics.median(timings):9.1f} "
                f"{p95:8.1f} {queries:7d}"
            )


def _time(client, url, params, repeat):
    timings = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url, params)
            timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return timings, len(ctx.captured_queries)


def _people():
    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"role": Role.ADMIN}
    )
    engineer, _ = User.objects.get_or_create(
        username="bench-engineer", defaults={"role": Role.ENGINEER}
    )
    if not Team.objects.filter(slug="bench-team-0").exists():
        teams = Team.objects.bulk_create(
            Team(name=f"Bench team {i}", slug=f"bench-team-{i}") for i in range(TEAMS)
        )
        projects = Project.objects.bulk_create(
            Project(team=team, name=f"{team.name} p{j}", slug=f"{team.slug}-p{j}")
            for team in teams
            for j in range(PROJECTS_PER_TEAM)
        )
        Environment.objects.bulk_create(
            Environment(project=project, name=kind, kind=kind, max_tier="standard")
            for project in projects
            for kind in ("production", "staging", "development")
        )
        User.objects.bulk_create(
            User(username=f"bench-eng-{i}", role=Role.ENGINEER)
            for i in range(ENGINEERS)
        )
        Membership.objects.create(user=engineer, team=teams[0])
    return admin, engineer


def _fill(wanted):
    have = VendorKey.objects.count()
    if have >= wanted:
        return
    rng = random.Random(7)
    environments = list(Environment.objects.select_related("project"))
    owners = list(User.objects.filter(username__startswith="bench-eng-"))
    vendors = (
        [Vendor.OPENAI] * 5 + [Vendor.ANTHROPIC] * 3 + [Vendor.GOOGLE, Vendor.DEEPSEEK]
    )
    statuses = [KeyStatus.ACTIVE] * 8 + [KeyStatus.REVOKED, KeyStatus.EXPIRED]
    now = timezone.now()
    started = time.perf_counter()
    for offset in range(have, wanted, BATCH):
        rows = []
        for n in range(offset, min(offset + BATCH, wanted)):
            environment = rng.choice(environments)
            rows.append(
                VendorKey(
                    name=f"bench key {n}",
                    vendor=rng.choice(vendors),
                    vendor_key_id=f"key_{n:08x}",
                    project=environment.project,
                    environment=environment,
                    owner=rng.choice(owners),
                    status=rng.choice(statuses),
                    hint=f"sk-proj-…{n % 65536:04x}",
                    fingerprint=f"{n:064x}",
                )
            )
        created = VendorKey.objects.bulk_create(rows)
        # created_at is set on insert; spread it over two years for the age filter.
        VendorKey.objects.filter(pk__in=[k.pk for k in created]).update(
            created_at=now - timedelta(days=rng.randrange(730))
        )
    print(f"inserted {wanted - have:,} keys in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
