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
from collections.abc import Callable

import httpx

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
    """GET JSON from one vendor's API, with retries for throttling and outages.

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
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                response = self._http.get(path, params=params)
            except httpx.TimeoutException:
                self._warn(path, "timed out", attempt=attempt)
                if last:
                    raise ConnectorError(self._timeout_reason()) from None
                self._sleep(self._backoff(attempt))
                continue
            except httpx.TransportError as error:
                self._warn(path, type(error).__name__, attempt=attempt)
                if last:
                    host = httpx.URL(self.base_url).host
                    raise ConnectorError(
                        f"could not reach {host} after {attempt} attempts"
                    ) from None
                self._sleep(self._backoff(attempt))
                continue

            if response.status_code == 429 or response.status_code >= 500:
                self._warn(path, response.status_code, response, attempt=attempt)
                if last:
                    raise ConnectorError(self._exhausted_reason(response, attempt))
                self._sleep(self._pause_before_retry(response, attempt))
                continue
            return self._decode(path, response)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _decode(self, path: str, response: httpx.Response) -> dict:
        status = response.status_code
        if status in (401, 403):
            self._warn(path, status, response)
            raise ConnectorError(f"rejected by vendor ({status}): check the admin key")
        if status >= 400:
            self._warn(path, status, response)
            raise ConnectorError(
                f"refused by vendor ({status}): {self._message(response)}"
            )
        try:
            payload = response.json()
        except ValueError:
            self._warn(path, status, response)
            raise ConnectorError("unexpected response: not JSON") from None
        if not isinstance(payload, dict):
            self._warn(path, status, response)
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

    def _warn(self, path, status, response=None, *, attempt=1) -> None:
        excerpt = self._redact(response.text[:EXCERPT_CHARS]) if response else ""
        logger.warning(
            "vendor call GET %s%s failed (attempt %d/%d): %s %s",
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


class Connector(ABC):
    """One vendor's admin API, reached with an organization's admin key.

    Subclasses set ``vendor`` and ``default_base_url`` and implement
    ``auth_headers`` and ``check``. Usage, costs and the key inventory join them
    when ingestion is built.
    """

    vendor: str
    default_base_url: str

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

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Connector":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
