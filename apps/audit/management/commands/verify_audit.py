from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import AuditEvent
from apps.audit.services import verify_chain


class Command(BaseCommand):
    help = "Check the audit chain; exit non-zero and name the first broken event."

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.ok:
            where = _describe(report.broken_event_id)
            raise CommandError(f"audit chain broken at {where}: {report.reason}")
        self.stdout.write(
            f"audit chain intact: {report.checked} events, head {report.head}"
        )


def _describe(event_id: int) -> str:
    event = AuditEvent.objects.filter(pk=event_id).first()
    if event is None:  # deleted between the walk and this lookup
        return f"event {event_id}"
    return f"event {event_id} ({event.at.isoformat(timespec='seconds')} {event.action})"
