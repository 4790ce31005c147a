"""What every vendor connector shares: the interface and the HTTP client.

A connector knows one vendor's admin API: its authentication headers and the
endpoints it reads. The client knows HTTP: timeouts, bounded retries, and turning
whatever went wrong into a ConnectorError whose message a person can act on.
"""

import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime

import httpx

from apps.connectors.rows import Balance, CostRow, CreatedKey, InventoryKey, UsageRow

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 1.0
# A vendor asking for a longer pause than this is waited for only this long.
MAX_RETRY_AFTER_SECONDS = 30.0
EXCERPT_CHARS = 200
# Anything shaped like a credential, in case a vendor echoes one in an error body.
CREDENTIAL_SHAPED = re.compile(r"(?:sk-|AIza|Bearer\s+)[\w.\-]{6,}")


class ConnectorError(Exception):
    """A vendor call failed; ``str(error)`` is one line a user can read."""


class VendorClient:
    """JSON over HTTP to one vendor's API, with retries for throttling and outages.

    ``sleep`` and ``rng`` are injectable so tests of the retry paths are fast.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._sleep = sleep
        # Jitter needs spread, not secrecy.
        self._rng = rng or random.Random()  # noqa: S311
        self._secrets = [value for value in headers.values() if len(value) >= 8]
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "VendorClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def get_json(self, path: str, params: dict | None = None) -> dict:
        """Return the decoded JSON object at ``path``, retrying what may pass."""
        return self._call("GET", path, params=params)

    def post_json(self, path: str, body: dict, *, idempotent: bool = False) -> dict:
        """POST ``body``; only an ``idempotent`` one is resent after an outage.

        A POST that creates something may have succeeded behind a timeout or a 5xx,
        and sending it again would create a second one. A 429 or a refused
        connection means the vendor never acted, so those are retried either way.
        """
        return self._call("POST", path, body=body, replayable=idempotent)

    def delete_json(self, path: str) -> dict:
        return self._call("DELETE", path)

    def _call(self, method, path, *, params=None, body=None, replayable=True) -> dict:
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                response = self._http.request(method, path, params=params, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                # Nothing reached the vendor, so even a creating POST may go again.
                self._warn(method, path, type(error).__name__, attempt=attempt)
                if last:
                    raise ConnectorError(self._unreachable_reason(attempt)) from None
            except httpx.TimeoutException:
                self._warn(method, path, "timed out", attempt=attempt)
                if not replayable:
                    raise ConnectorError(self._unsure_reason("timed out")) from None
                if last:
                    raise ConnectorError(self._timeout_reason()) from None
            except httpx.TransportError as error:
                self._warn(method, path, type(error).__name__, attempt=attempt)
                if not replayable:
                    raise ConnectorError(self._unsure_reason("broke off")) from None
                if last:
                    raise ConnectorError(self._broken_reason(error, attempt)) from None
            else:
                status = response.status_code
                if status != 429 and status < 500:
                    return self._decode(method, path, response)
                self._warn(method, path, status, response, attempt=attempt)
                if status != 429 and not replayable:
                    raise ConnectorError(self._unsure_reason(f"answered {status}"))
                if last:
                    raise ConnectorError(self._exhausted_reason(response, attempt))
                self._sleep(self._pause_before_retry(response, attempt))
                continue
            self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _decode(self, method: str, path: str, response: httpx.Response) -> dict:
        status = response.status_code
        if status in (401, 403):
            self._warn(method, path, status, response)
            raise ConnectorError(f"rejected by vendor ({status}): check the admin key")
        if status >= 400:
            self._warn(method, path, status, response)
            raise ConnectorError(
                f"refused by vendor ({status}): {self._message(response)}"
            )
        try:
            payload = response.json()
        except ValueError:
            self._warn(method, path, status, response)
            raise ConnectorError("unexpected response: not JSON") from None
        if not isinstance(payload, dict):
            self._warn(method, path, status, response)
            raise ConnectorError("unexpected response: not a JSON object")
        return payload

    def _pause_before_retry(self, response: httpx.Response, attempt: int) -> float:
        if response.status_code == 429:
            retry_after = _seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                return min(retry_after, MAX_RETRY_AFTER_SECONDS)
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        # Jitter keeps several connections that failed together from retrying
        # together.
        ceiling = BACKOFF_SECONDS * 2 ** (attempt - 1)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _timeout_reason(self) -> str:
        return f"timed out after {self.timeout.read:g} s"

    def _unreachable_reason(self, attempts: int) -> str:
        host = httpx.URL(self.base_url).host
        return f"could not reach {host} after {attempts} attempts"

    def _broken_reason(self, error: httpx.TransportError, attempts: int) -> str:
        if isinstance(error, httpx.RemoteProtocolError):
            # The vendor was reached, but its answer stopped short or made no sense.
            return f"unexpected response: cut short {attempts} times"
        return self._unreachable_reason(attempts)

    def _unsure_reason(self, what: str) -> str:
        return (
            f"vendor {what} and may have acted on the request: "
            "check at the vendor before trying again"
        )

    def _exhausted_reason(self, response: httpx.Response, attempts: int) -> str:
        status = response.status_code
        if status == 429:
            return f"rate limited by vendor (429) after {attempts} attempts"
        return f"vendor unavailable ({status}) after {attempts} attempts"

    def _message(self, response: httpx.Response) -> str:
        """The vendor's own error message, if it sent one, on one short line."""
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        message = error.get("message") if isinstance(error, dict) else None
        return self._redact(" ".join(str(message or "no details").split()))[:120]

    def _warn(self, method, path, status, response=None, *, attempt=1) -> None:
        excerpt = self._redact(response.text[:EXCERPT_CHARS]) if response else ""
        logger.warning(
            "vendor call %s %s%s failed (attempt %d/%d): %s %s",
            method,
            self.base_url,
            path,
            attempt,
            self.max_attempts,
            status,
            excerpt,
        )

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return CREDENTIAL_SHAPED.sub("[redacted]", text)


def _seconds(value: str | None) -> float | None:
    """Retry-After as seconds; the HTTP-date form falls back to backoff."""
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def field(payload: dict, *path: str | int):
    """``payload[path[0]][path[1]]...``, or a ConnectorError naming what is missing."""
    value = payload
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            where = ".".join(str(part) for part in path)
            logger.warning("vendor response lacks %s", where)
            raise ConnectorError(f"unexpected response: no {where}") from None
    return value


def next_cursor(page: dict, name: str, previous) -> str:
    """The cursor ``page[name]`` to the next page, refusing one that would loop."""
    cursor = field(page, name)
    if not cursor or cursor == previous:
        logger.warning("vendor page has more but its %s is %r", name, cursor)
        raise ConnectorError(f"unexpected response: {name} leads nowhere new")
    return cursor


class Unsupported(ConnectorError):
    """The vendor's API does not offer this; the message says what to do instead."""


class Connector(ABC):
    """One vendor's admin API, reached with an organization's admin key.

    Subclasses set ``vendor`` and ``default_base_url`` and implement
    ``auth_headers`` and ``check``, then whichever of the optional capabilities the
    vendor's API offers. ``reports_usage`` says usage and costs come per key and
    model; ``reports_balance`` that spend can only be derived from the balance.
    """

    vendor: str
    default_base_url: str
    # Templates read the capabilities off the class; they must not instantiate it.
    do_not_call_in_templates = True
    reports_usage = False
    reports_balance = False
    lists_keys = False
    revokes_keys = False
    creates_keys = False
    # Shown where a capability is missing, so nobody hunts for a button.
    no_create_reason = "this vendor's API cannot create keys: create it in its console"

    def __init__(self, base_url: str, admin_key: str, **client_options):
        self.client = VendorClient(
            base_url or self.default_base_url,
            self.auth_headers(admin_key),
            **client_options,
        )

    @abstractmethod
    def auth_headers(self, admin_key: str) -> dict[str, str]: ...

    @abstractmethod
    def check(self) -> str:
        """Make one cheap authenticated call; describe what the vendor answered."""

    def usage_pages(self, start: datetime, end: datetime) -> Iterator[list[UsageRow]]:
        """Hourly usage buckets starting in [start, end), one list per vendor page."""
        raise Unsupported("this vendor publishes no usage per key")

    def cost_pages(self, start: datetime, end: datetime) -> Iterator[list[CostRow]]:
        """The vendor's own daily cost lines for the days in [start, end)."""
        raise Unsupported("this vendor publishes no cost report")

    def list_keys(self) -> Iterator[InventoryKey]:
        """Every API key of the organization, as the vendor lists it."""
        raise Unsupported("this vendor's API cannot list keys")

    def balance(self) -> Balance:
        """The account's balance, for vendors whose spend is derived from it."""
        raise Unsupported("this vendor publishes no balance")

    def revoke_key(self, vendor_key_id: str, vendor_project_id: str = "") -> None:
        """Stop a key working at the vendor."""
        raise Unsupported("this vendor's API cannot revoke keys: do it in its console")

    def create_key(self, vendor_project_id: str, name: str) -> CreatedKey:
        """Make a new key in a vendor project; its secret is returned only now."""
        raise Unsupported(self.no_create_reason)

    def _report_pages(self, path: str, params: dict) -> Iterator[list[dict]]:
        """The buckets of each page of a usage or cost report.

        OpenAI and Anthropic page their reports alike: ``data``, ``has_more`` and
        a ``next_page`` cursor sent back as ``page``.
        """
        while True:
            page = self.client.get_json(path, params)
            buckets, more = field(page, "data"), field(page, "has_more")
            yield buckets
            if not more:
                return
            cursor = next_cursor(page, "next_page", params.get("page"))
            params = params | {"page": cursor}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Connector":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
