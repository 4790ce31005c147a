import io
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.audit.services import SYSTEM, record
from apps.audit.tests.tampering import change_details

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    return [record(SYSTEM, "team.created", name=name) for name in ("A", "B", "C")]


def test_intact_chain_prints_count_and_head(events):
    out = io.StringIO()

    call_command("verify_audit", stdout=out)

    assert out.getvalue() == f"audit chain intact: 3 events, head {events[-1].hash}\n"


def test_empty_chain_is_intact():
    out = io.StringIO()

    call_command("verify_audit", stdout=out)

    assert out.getvalue() == f"audit chain intact: 0 events, head {'0' * 64}\n"


def test_broken_chain_names_the_first_broken_event(events):
    change_details(events[1], '{"name": "Z"}')

    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")

    at = events[1].at.isoformat(timespec="seconds")
    assert str(failure.value) == (
        f"audit chain broken at event {events[1].pk} ({at} team.created): "
        "its content does not match its hash"
    )


def test_exit_status_and_streams_of_manage_py(child_env, events):
    intact = run_verify_audit(child_env)
    change_details(events[0], '{"name": "Z"}')
    broken = run_verify_audit(child_env)

    assert intact.returncode == 0
    assert intact.stdout.startswith("audit chain intact: 3 events, head ")
    assert broken.returncode == 1
    assert broken.stdout == ""
    assert f"audit chain broken at event {events[0].pk} (" in broken.stderr


def run_verify_audit(env):
    return subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
