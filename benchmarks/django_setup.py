"""Start Django for a benchmark script run from the repository's root.

Imported first by each script: it puts the project on the path, sets the settings a
benchmark needs when the caller's environment does not (production-like, DEBUG
off, a fixed master key for throwaway data) and calls ``django.setup()``.
"""

import os
import sys
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault(
    "SECRET_KEY", "keyhold-benchmark-secret-key-not-for-deployment-0123"
)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault(
    "KEYHOLD_MASTER_KEYS", "a2V5aG9sZC10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM="
)

django.setup()
