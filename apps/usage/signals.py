"""What other parts of Keyhold can listen for once usage has landed."""

from django.dispatch import Signal

# Sent after a sync stored its figures, with ``connection`` and ``days`` (the UTC
# dates whose rollups were refreshed): detectors and budget checks start here.
usage_synced = Signal()
