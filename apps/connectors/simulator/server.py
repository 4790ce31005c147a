"""The HTTP server: routing, per-vendor auth and error shapes, faults."""

import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import anthropic, balances, openai
from . import faults as fault_modes
from .buckets import VendorError
from .org import SyntheticOrg

logger = logging.getLogger(__name__)

VENDORS = ("openai", "anthropic", "deepseek", "moonshot", "openai_compatible")
ROUTES = [
    (vendor, method, re.compile(pattern + r"/?"), handler)
    for vendor, table in (
        ("openai", openai.ROUTES),
        ("anthropic", anthropic.ROUTES),
        ("deepseek", balances.DEEPSEEK_ROUTES),
        ("moonshot", balances.MOONSHOT_ROUTES),
        ("openai_compatible", balances.GATEWAY_ROUTES),
    )
    for method, pattern, handler in table
]
ERROR_KINDS = {
    "429": ("rate_limit_error", "Rate limit exceeded; retry after the given delay."),
    "500": ("api_error", "Internal server error."),
    "502": ("api_error", "Bad gateway."),
    "503": ("api_error", "The service is temporarily unavailable."),
    "529": ("overloaded_error", "Overloaded."),
}


def generate_admin_keys() -> dict[str, str]:
    """Fresh credentials in each vendor's format, for one simulator run."""
    return {
        "openai": "sk-admin-" + secrets.token_urlsafe(48),
        "anthropic": "sk-ant-admin01-" + secrets.token_urlsafe(70),
        "deepseek": "sk-" + secrets.token_hex(16),
        "moonshot": "sk-" + secrets.token_urlsafe(36),
        "openai_compatible": "sk-or-v1-" + secrets.token_hex(32),
    }


@dataclass
class SimRequest:
    params: dict[str, str]
    query: dict[str, list[str]]
    body: dict


class Simulator:
    """The vendors' admin APIs on one local port, for demos and connector tests."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 1,
        admin_keys: dict[str, str] | None = None,
        faults: tuple = (),
        clock=time.time,
        page_cap: int | None = None,
        canned: dict[str, list[dict]] | None = None,
    ):
        """Serve the organization of ``seed``, or ``canned`` bodies where given.

        ``page_cap`` serves fewer items per page than asked for, as vendors may.
        ``canned`` maps a known path to the bodies its successive requests get,
        verbatim; the credentials are still checked and faults still applied.
        """
        self.org = SyntheticOrg(seed)
        self.admin_keys = generate_admin_keys() | (admin_keys or {})
        self.faults = fault_modes.FaultPlan(faults)
        self.page_cap = page_cap
        self._canned = {path: deque(bodies) for path, bodies in (canned or {}).items()}
        self._canned_lock = threading.Lock()
        self.openai_state = openai.OpenAIState()
        self.anthropic_state = anthropic.AnthropicState()
        self.stopping = threading.Event()
        self._clock = clock
        self._server = ThreadingHTTPServer((host, port), VendorRequestHandler)
        self._server.simulator = self
        self._thread = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def now(self) -> int:
        return int(self._clock())

    def page_size(self, asked: int) -> int:
        return min(asked, self.page_cap) if self.page_cap else asked

    def is_canned(self, path: str) -> bool:
        return path in self._canned

    def next_canned(self, path: str) -> dict:
        with self._canned_lock:
            bodies = self._canned[path]
            if not bodies:
                raise VendorError(
                    404, "not_found_error", f"No canned body left: {path}"
                )
            return bodies.popleft()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> "Simulator":
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="vendor-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wake requests sleeping in the "slow" fault so they do not hold shutdown.
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()


@contextmanager
def running_simulator(port: int = 0, **options):
    """A started simulator on 127.0.0.1, stopped on exit."""
    simulator = Simulator(port=port, **options).start()
    try:
        yield simulator
    finally:
        simulator.stop()


def error_body(vendor: str, status: int, kind: str, message: str, param=None) -> dict:
    if vendor == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class VendorRequestHandler(BaseHTTPRequestHandler):
    server_version = "KeyholdVendorSimulator/1"

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)

    @property
    def simulator(self) -> Simulator:
        return self.server.simulator

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path.startswith("/_simulator/"):
            return self._control(url.path)

        route = self._route(url.path)
        if route is None:
            return self._send_json(404, {"error": {"message": "Unknown path"}})
        vendor, handler, params = route
        refusal = self._refuse(vendor)
        if refusal is not None:
            return self._send_json(*refusal)

        fault = self._fault(query)
        if fault is not None and fault.mode in fault_modes.ERROR_STATUSES:
            return self._send_error_fault(vendor, fault)
        if fault is not None and fault.mode == "slow":
            self.simulator.stopping.wait(fault.delay)

        try:
            request = SimRequest(params, _vendor_query(query), self._json_body())
            if self.simulator.is_canned(url.path):
                payload = self.simulator.next_canned(url.path)
            else:
                payload = handler(self.simulator, request)
        except VendorError as error:
            body = error_body(
                vendor, error.status, error.kind, error.message, error.param
            )
            return self._send_json(error.status, body)
        self._send_payload(payload, fault)

    def _route(self, path: str):
        for vendor, method, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match and method == self.command:
                return vendor, handler, match.groupdict()
        return None

    def _refuse(self, vendor: str):
        """(status, body) when the vendor would refuse the credentials, else None."""
        if vendor == "anthropic":
            given = self.headers.get("x-api-key", "")
        else:
            given = self.headers.get("Authorization", "").removeprefix("Bearer ")
        expected = self.simulator.admin_keys[vendor]
        if not secrets.compare_digest(given.encode(), expected.encode()):
            kind = {
                "openai": "invalid_request_error",
                "anthropic": "authentication_error",
                "deepseek": "authentication_error",
                "moonshot": "invalid_authentication_error",
                "openai_compatible": "authentication_error",
            }[vendor]
            return 401, error_body(vendor, 401, kind, "Invalid API key.")
        if vendor == "anthropic" and not self.headers.get("anthropic-version"):
            message = "anthropic-version: header is required"
            return 400, error_body(vendor, 400, "invalid_request_error", message)
        return None

    def _fault(self, query) -> fault_modes.Fault | None:
        mode = query.get("_fault")
        if mode is None:
            return self.simulator.faults.take()
        spec = {"mode": mode[-1]}
        for name in ("retry_after", "delay"):
            if f"_{name}" in query:
                spec[name] = query[f"_{name}"][-1]
        try:
            return fault_modes.Fault.parse(spec)
        except ValueError:
            return None

    def _send_error_fault(self, vendor: str, fault: fault_modes.Fault) -> None:
        kind, message = ERROR_KINDS[fault.mode]
        status = int(fault.mode)
        if vendor != "anthropic" and status == 429:
            kind = "requests"
        elif vendor != "anthropic":
            kind = "server_error"
        headers = {"Retry-After": str(fault.retry_after)} if status == 429 else {}
        self._send_json(status, error_body(vendor, status, kind, message), headers)

    def _json_body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            raise VendorError(
                400, "invalid_request_error", "Body is not JSON"
            ) from None
        if not isinstance(body, dict):
            raise VendorError(400, "invalid_request_error", "Body must be an object")
        return body

    def _send_payload(self, payload, fault: fault_modes.Fault | None) -> None:
        mode = fault.mode if fault else None
        if mode == "extra_fields":
            payload = fault_modes.with_added_fields(payload)
        elif mode == "missing_fields":
            payload = fault_modes.without_required_fields(payload)
        body = (
            fault_modes.malformed(payload) if mode == "malformed" else _encode(payload)
        )
        if mode == "truncated":
            # Promise the whole body, send half of it, then hang up.
            self._send(200, body, cut=len(body) // 2)
        else:
            self._send(200, body)

    def _control(self, path: str) -> None:
        if path.rstrip("/") != "/_simulator/faults":
            return self._send_json(404, {"error": {"message": "Unknown path"}})
        plan = self.simulator.faults
        if self.command == "POST":
            try:
                plan.add(fault_modes.Fault.parse(self._json_body()))
            except (ValueError, TypeError, VendorError) as error:
                return self._send_json(400, {"error": {"message": str(error)}})
        elif self.command == "DELETE":
            plan.clear()
        self._send_json(200, {"faults": plan.describe()})

    def _send_json(self, status: int, payload, headers=None) -> None:
        self._send(status, _encode(payload), headers=headers)

    def _send(self, status: int, body: bytes, headers=None, cut=None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body if cut is None else body[:cut])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first, as clients with short timeouts should.
            logger.debug("client went away before the response was written")
        self.close_connection = True


def _vendor_query(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """The query without the simulator's own ``_fault``-style parameters."""
    return {name: values for name, values in query.items() if not name.startswith("_")}


def _encode(payload) -> bytes:
    return json.dumps(payload).encode()
