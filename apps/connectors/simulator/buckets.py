"""Time buckets, page cursors and query parsing shared by the vendor modules."""

import base64
from datetime import UTC, datetime

HOUR = 3600
DAY = 24 * HOUR
WIDTHS = {"1h": HOUR, "1d": DAY}


class VendorError(Exception):
    """A request the vendor would refuse; rendered in the vendor's error shape."""

    def __init__(self, status: int, kind: str, message: str, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.param = param


def invalid(message: str, param: str | None = None) -> VendorError:
    return VendorError(400, "invalid_request_error", message, param)


def not_found(message: str) -> VendorError:
    return VendorError(404, "not_found_error", message)


def rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str, param: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"{param} must be an RFC 3339 timestamp", param) from None
    if moment.tzinfo is None:
        raise invalid(f"{param} must include a time zone", param)
    return int(moment.timestamp())


def one(query: dict[str, list[str]], name: str, default: str | None = None):
    values = many(query, name)
    return values[-1] if values else default


def many(query: dict[str, list[str]], name: str) -> list[str]:
    """Values of an array parameter, sent as ``name[]=`` (SDKs) or ``name=``."""
    return query.get(f"{name}[]", []) + query.get(name, [])


def integer(query, name: str, default: int | None = None) -> int | None:
    value = one(query, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise invalid(f"{name} must be an integer", name) from None


def width(query, allowed: tuple[str, ...]) -> tuple[str, int]:
    name = one(query, "bucket_width", "1d")
    if name not in allowed:
        raise invalid(
            f"bucket_width must be one of {', '.join(allowed)}", "bucket_width"
        )
    return name, WIDTHS[name]


def limit(query, default: int, maximum: int, minimum: int = 1) -> int:
    value = integer(query, "limit", default)
    if not minimum <= value <= maximum:
        raise invalid(f"limit must be between {minimum} and {maximum}", "limit")
    return value


def bucket_page(start: int, end: int, size: int, page: str | None, count: int):
    """Starts of this page's buckets and the next page's cursor (or None).

    Buckets are snapped to UTC boundaries of their width; the cursor is the start
    of the first bucket not yet returned.
    """
    first = start - start % size
    if page is not None:
        first = decode_cursor(page)
    starts = []
    moment = first
    while moment < end and len(starts) < count:
        starts.append(moment)
        moment += size
    return starts, (encode_cursor(moment) if moment < end else None)


def encode_cursor(value: int | str) -> str:
    return "page_" + base64.urlsafe_b64encode(str(value).encode()).decode()


def decode_cursor(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.removeprefix("page_")).decode())
    except ValueError:
        raise invalid("page is not a cursor this endpoint returned", "page") from None


def list_page(items: list, after: str | None, count: int, key=lambda item: item.id):
    """Items following the one with id ``after``; whether more remain."""
    ids = [key(item) for item in items]
    if after is not None:
        if after not in ids:
            raise invalid(f"No object found with id '{after}'", "after")
        items = items[ids.index(after) + 1 :]
    return items[:count], len(items) > count
