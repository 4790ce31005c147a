"""Misbehaviour the simulator can be told to show, per run or per request."""

import json
import threading
from dataclasses import asdict, dataclass

ERROR_STATUSES = ("429", "500", "502", "503", "529")
MODES = (
    *ERROR_STATUSES,
    "slow",
    "malformed",
    "truncated",
    "extra_fields",
    "missing_fields",
)
# Schema drift: documented required fields that vanish from every object.
DRIFTING_FIELDS = frozenset(
    {
        "id",
        "amount",
        "output_tokens",
        "starting_at",
        "start_time",
        "total_balance",
        "available_balance",
    }
)
ADDED_FIELD = "simulator_added_field"


@dataclass
class Fault:
    """``mode`` for the next ``count`` vendor requests (None: every request)."""

    mode: str
    count: int | None = None
    retry_after: int = 1
    delay: float = 3.0

    @classmethod
    def parse(cls, spec: dict) -> "Fault":
        mode = str(spec.get("mode", ""))
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        count = spec.get("count")
        return cls(
            mode=mode,
            count=None if count is None else int(count),
            retry_after=int(spec.get("retry_after", 1)),
            delay=float(spec.get("delay", 3.0)),
        )


class FaultPlan:
    """Faults waiting to be applied, first come first served."""

    def __init__(self, faults=()):
        self._faults = [Fault.parse(f) if isinstance(f, dict) else f for f in faults]
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def take(self) -> Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.pop(0)
            return fault


def with_added_fields(payload):
    """The payload as a newer API version might send it: unknown fields added."""
    if isinstance(payload, dict):
        changed = {name: with_added_fields(value) for name, value in payload.items()}
        return changed | {ADDED_FIELD: {"introduced": "later", "ignore": True}}
    if isinstance(payload, list):
        return [with_added_fields(item) for item in payload]
    return payload


def without_required_fields(payload):
    """The payload after schema drift: some documented fields are gone."""
    if isinstance(payload, dict):
        return {
            name: without_required_fields(value)
            for name, value in payload.items()
            if name not in DRIFTING_FIELDS
        }
    if isinstance(payload, list):
        return [without_required_fields(item) for item in payload]
    return payload


def malformed(payload) -> bytes:
    """A body that starts like the real one and stops being JSON."""
    text = json.dumps(payload)
    return (text[: max(1, len(text) // 2)] + "<html>upstream error</html>").encode()
