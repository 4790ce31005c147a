"""How fast usage lands: a million hourly buckets through Keyhold's ingest.

OpenAI completions pages, shaped as its usage API sends them when grouped by
project, key, model, batch and service tier, are built in memory one page at a time
and handed to the OpenAI connector in place of its HTTP calls: the connector's own
page parsing, the catalog's names and prices, the COPY of each page into the bucket
table, the daily rollup and the commit all run as in a sync, one UTC day per window.
No HTTP is made, so the figures are Keyhold's and not the loopback's or the JSON
decoder's.

    createdb -h 127.0.0.1 -U postgres keyhold_bench_usage
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keyhold_bench_usage \
        .venv/bin/python benchmarks/usage_ingest.py

Without ``--case`` every case runs in a subprocess of its own, so each reports its
own peak memory, and markdown tables are printed at the end. The usage tables are
emptied before each case. Building the vendor pages is timed apart and left out of
the rates; the COPY case also leaves out parsing and pricing, to show what the
database alone accepts.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import django_setup  # noqa: F401  (sets up Django before the imports below)
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from apps.catalog.names import normalize_model_name
from apps.catalog.pricing import PriceBook
from apps.connectors.models import Connection
from apps.connectors.simulator.server import generate_admin_keys
from apps.connectors.vendors.openai import (
    COMPLETIONS,
    HOURS_PER_PAGE,
    OpenAIConnector,
)
from apps.usage import ingest, rollups
from apps.usage.models import DailySpend, UsageBucket
from apps.vault.models import Secret, Vendor

HOUR = 3600
DAY = timedelta(days=1)
FIRST_HOUR = datetime(2026, 3, 2, tzinfo=UTC)
# Four priced models, one of them always in batch, and a fine-tune the catalog
# cannot price, so the unpriced path is part of the work.
MODELS = (
    ("gpt-4o-2024-08-06", False),
    ("gpt-4o-mini-2024-07-18", True),
    ("gpt-5.4", False),
    ("gpt-4.1-2025-04-14", False),
    ("ft:gpt-4o-mini-2024-07-18:acme::bench01", False),
)
KEYS_PER_PROJECT = 10
CONNECTION_NAME = "Benchmark OpenAI"
CASES = {
    "naive": "per-row ORM save()",
    "keyhold": "Keyhold, day windows",
    "keyhold-one-window": "Keyhold, one window for all hours",
    "keyhold-repull": "Keyhold, day windows over stored rows",
    "keyhold-day-pages": "Keyhold, day windows, 24-hour pages (4x what it asks)",
    "copy": "raw COPY into the table",
}
# Memory follows the size of a vendor page, which the connector chooses
# (HOURS_PER_PAGE): this case shows what a page four times larger costs.
DAY_PAGE_HOURS = 24


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--hours", type=int, default=100)
    parser.add_argument(
        "--page-hours",
        type=int,
        default=HOURS_PER_PAGE,
        help="hourly buckets per vendor page (default: what the connector asks for)",
    )
    parser.add_argument("--naive-rows", type=int, default=20_000)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each case; the fastest is shown"
    )
    args = parser.parse_args()

    if args.case:
        print(json.dumps(_run(args)))
        return
    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL database: COPY is what is measured")
    call_command("migrate", verbosity=0)
    buckets = args.keys * len(MODELS) * args.hours
    print(
        f"{args.keys:,} keys x {len(MODELS)} models x {args.hours} hours = "
        f"{buckets:,} buckets, {args.page_hours} hour(s) per page",
        file=sys.stderr,
    )
    results = [_fastest(case, args) for case in CASES]
    _table(results)


def _fastest(case, args):
    # Other work on the machine only ever slows a run down, never speeds it up.
    runs = [_subprocess(case, args) for _ in range(args.repeat)]
    fastest = min(runs, key=lambda run: run["wall"] - run["excluded"])
    return fastest | {"peak_mb": max(run["peak_mb"] for run in runs)}


def _subprocess(case, args):
    command = [
        sys.executable,
        __file__,
        "--case",
        case,
        "--keys",
        str(args.keys),
        "--hours",
        str(args.hours),
        "--page-hours",
        str(args.page_hours),
        "--naive-rows",
        str(args.naive_rows),
    ]
    print(f"running {case} ...", file=sys.stderr)
    # Only this script, with arguments argparse has already checked.
    finished = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=True
    )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _run(args):
    """Run one case in this process and return its figures."""
    conn = _connection()
    _empty()
    baseline = _peak_mb()
    watches = {
        name: Stopwatch() for name in ("open", "parse", "add", "commit", "rollup")
    }
    refresh = rollups.refresh

    def timed_refresh(*refresh_args):
        with watches["rollup"]:
            return refresh(*refresh_args)

    # The window calls the rollup through the module, so its share can be timed.
    rollups.refresh = timed_refresh
    page_hours = args.page_hours
    if args.case == "keyhold-day-pages":
        page_hours = DAY_PAGE_HOURS
    if args.case == "keyhold-repull":
        # The steady state: every sync fetches the last two days again.
        _keyhold(conn, BenchConnector(args.keys, args.hours, page_hours), DAY, watches)
        for watch in watches.values():
            watch.seconds = 0.0
    vendor = BenchConnector(args.keys, args.hours, page_hours)
    started = time.perf_counter()
    if args.case == "naive":
        rows = _naive(conn, vendor, args.naive_rows)
    elif args.case in ("keyhold", "keyhold-repull", "keyhold-day-pages"):
        rows = _keyhold(conn, vendor, DAY, watches)
    elif args.case == "keyhold-one-window":
        rows = _keyhold(conn, vendor, timedelta(hours=args.hours), watches)
    else:
        rows = _copy(conn, vendor)
    wall = time.perf_counter() - started
    stored = UsageBucket.objects.filter(connection=conn).count()
    assert stored == rows, (stored, rows)
    generation = vendor.generation.seconds
    return {
        "case": args.case,
        "rows": rows,
        "wall": wall,
        # Preparation includes its pages' building: count the larger one only.
        "excluded": max(generation, vendor.preparation.seconds),
        "parse": watches["parse"].seconds - generation,
        "write": watches["add"].seconds,
        "delete": watches["open"].seconds,
        "commit": watches["commit"].seconds - watches["rollup"].seconds,
        "rollup": watches["rollup"].seconds,
        "peak_mb": _peak_mb(),
        "baseline_mb": baseline,
        "rollup_rows": DailySpend.objects.filter(connection=conn).count(),
    }


def _naive(conn, vendor, limit):
    prices = PriceBook(conn.vendor)
    saved = 0
    for page in vendor.usage_pages(FIRST_HOUR, vendor.end):
        for row in page:
            UsageBucket(
                connection=conn,
                start=row.start,
                width=row.width,
                vendor_key_id=row.vendor_key_id,
                vendor_project_id=row.vendor_project_id,
                vendor_model=row.model,
                model=normalize_model_name(row.model),
                service_tier=row.service_tier,
                batch=row.batch,
                context_band=row.context_band,
                uncached_input=row.uncached_input,
                cache_read=row.cache_read,
                cache_write_5m=row.cache_write_5m,
                cache_write_1h=row.cache_write_1h,
                output=row.output,
                requests=row.requests,
                cost_usd=prices.cost(row),
            ).save()
            saved += 1
            if saved == limit:
                return saved
    return saved


def _keyhold(conn, vendor, window, watches):
    """Sync the span window by window, as the usage sync does."""
    start, rows = FIRST_HOUR, 0
    while start < vendor.end:
        end = start + window
        with ExitStack() as stack:
            # Opening locks the connection and deletes the window's stored rows.
            with watches["open"]:
                usage = stack.enter_context(ingest.UsageWindow(conn, start, end))
            pages = vendor.usage_pages(start, end)
            while True:
                with watches["parse"]:
                    page = next(pages, None)
                if page is None:
                    break
                with watches["add"]:
                    usage.add(page)
            with watches["commit"]:
                usage.commit()
        rows += usage.rows
        start = end
    return rows


def _copy(conn, vendor):
    """COPY the rows the window would write, prepared beforehand, into the table."""
    prices = PriceBook(conn.vendor)
    statement = f"COPY {ingest.TABLE} ({', '.join(ingest.COLUMNS)}) FROM STDIN"
    connection.ensure_connection()
    pages = vendor.usage_pages(FIRST_HOUR, vendor.end)
    rows = 0
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        while True:
            # Building, parsing and pricing the page is left out of this case.
            with vendor.preparation:
                page = next(pages, None)
                records = [_record(conn, prices, row) for row in page or ()]
            if page is None:
                return rows
            for record in records:
                copy.write_row(record)
            rows += len(records)


def _record(conn, prices, row):
    return (
        conn.pk,
        row.start,
        row.width,
        row.vendor_key_id,
        row.vendor_project_id,
        row.model,
        normalize_model_name(row.model),
        row.service_tier,
        row.batch,
        row.context_band,
        row.uncached_input,
        row.cache_read,
        row.cache_write_5m,
        row.cache_write_1h,
        row.output,
        row.requests,
        prices.cost(row),
    )


class Stopwatch:
    """Seconds spent inside ``with`` blocks, summed."""

    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._started = time.perf_counter()

    def __exit__(self, *exc_info):
        self.seconds += time.perf_counter() - self._started


class BenchConnector(OpenAIConnector):
    """The OpenAI connector with its report pages built here instead of fetched.

    Each page holds ``page_hours`` hourly buckets with one result per key and
    model, as the usage API returns them; only one page exists at a time.
    """

    def __init__(self, keys, hours, page_hours):
        super().__init__("http://127.0.0.1:9", generate_admin_keys()["openai"])
        self.page_hours = page_hours
        self.end = FIRST_HOUR + timedelta(hours=hours)
        self.generation, self.preparation = Stopwatch(), Stopwatch()
        self._groups = [
            (f"key_{n:016x}", f"proj_{n // KEYS_PER_PROJECT:024x}", model, batch)
            for n in range(keys)
            for model, batch in MODELS
        ]

    def _report_pages(self, path, params):
        if path != COMPLETIONS:
            return  # no embeddings in this organization
        first = max(params["start_time"], int(FIRST_HOUR.timestamp()))
        last = min(params["end_time"], int(self.end.timestamp()))
        for page_start in range(first, last, self.page_hours * HOUR):
            page_end = min(page_start + self.page_hours * HOUR, last)
            with self.generation:
                buckets = [
                    self._bucket(hour) for hour in range(page_start, page_end, HOUR)
                ]
            yield buckets

    def _bucket(self, hour):
        index = (hour - int(FIRST_HOUR.timestamp())) // HOUR
        return {
            "object": "bucket",
            "start_time": hour,
            "end_time": hour + HOUR,
            "results": [
                _result(n, index, *group) for n, group in enumerate(self._groups)
            ],
        }


def _result(n, hour, key_id, project_id, model, batch):
    cached = (n * 37 + hour * 11) % 3000
    written = (n + hour) % 7 * 100
    uncached = 500 + (n * 53 + hour * 29) % 20_000
    output = 50 + (n * 17 + hour * 7) % 4000
    total = uncached + cached + written
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": total,
        "input_cached_tokens": cached,
        "input_cache_write_tokens": written,
        "input_uncached_tokens": uncached,
        "output_tokens": output,
        "input_text_tokens": total,
        "output_text_tokens": output,
        "input_cached_text_tokens": cached,
        "input_audio_tokens": 0,
        "input_cached_audio_tokens": 0,
        "output_audio_tokens": 0,
        "input_image_tokens": 0,
        "input_cached_image_tokens": 0,
        "output_image_tokens": 0,
        "num_model_requests": 1 + n % 40,
        "project_id": project_id,
        "user_id": None,
        "api_key_id": key_id,
        "model": model,
        "batch": batch,
        "service_tier": "batch" if batch else "default",
    }


def _connection():
    conn = Connection.objects.filter(name=CONNECTION_NAME).first()
    if conn is None:
        admin_key = generate_admin_keys()["openai"]
        conn = Connection.objects.create(
            name=CONNECTION_NAME,
            vendor=Vendor.OPENAI,
            base_url="http://127.0.0.1:9",
            admin_key=Secret.seal(admin_key),
            admin_key_hint=admin_key[-4:],
        )
    return conn


def _empty():
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {UsageBucket._meta.db_table}, {DailySpend._meta.db_table}"
        )
        # Each case starts with the previous one's writes already on disk.
        cursor.execute("CHECKPOINT")


def _peak_mb():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _table(results):
    print(f"\ndatabase: {settings.DATABASES['default']['NAME']}")
    print(
        "| case | buckets | wall s | left out s | measured s | buckets/s "
        "| peak RSS MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for result in results:
        measured = result["wall"] - result["excluded"]
        print(
            f"| {CASES[result['case']]} | {result['rows']:,} | {result['wall']:.1f} "
            f"| {result['excluded']:.1f} | {measured:.1f} "
            f"| {result['rows'] / measured:,.0f} | {result['peak_mb']:.0f} |"
        )
    print(f"\nRSS after start-up: {results[0]['baseline_mb']:.0f} MB")
    print(
        "\n| Keyhold's path | parse pages s | lock, delete stored s "
        "| normalize, price, COPY s | rollup s | commit s | rollup rows |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for result in results:
        if result["case"].startswith("keyhold"):
            print(
                f"| {CASES[result['case']]} | {result['parse']:.1f} "
                f"| {result['delete']:.1f} | {result['write']:.1f} "
                f"| {result['rollup']:.1f} | {result['commit']:.1f} "
                f"| {result['rollup_rows']:,} |"
            )


if __name__ == "__main__":
    main()
