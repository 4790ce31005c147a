"""OpenAI-compatible gateways that publish their credits the way OpenRouter does.

The shapes are OpenRouter's API reference:
https://openrouter.ai/docs/api/api-reference/credits/get-credits
(``GET /credits``: ``{"data": {"total_credits", "total_usage"}}``, USD, needs a
management key) and
https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key
(``GET /key``: ``{"data": {"usage", "limit", "limit_remaining", ...}}``, the
calling key's own spend and cap in USD). Paths are relative to the base URL the
user gives, e.g. https://openrouter.ai/api/v1.
"""

from decimal import Decimal, InvalidOperation

import httpx

from apps.connectors.rows import Balance
from apps.connectors.vendors.base import (
    Connector,
    ConnectorError,
    VendorClient,
    field,
)
from apps.vault.models import Vendor

NO_CREDIT_ENDPOINT = (
    "this gateway publishes no credit endpoint Keyhold understands "
    "(neither /credits nor /key)"
)


class EndpointMissing(ConnectorError):
    """The gateway answered 404: it does not have this endpoint at all."""


class GatewayClient(VendorClient):
    """A client for which a 404 means "no such endpoint here", not a failure.

    It can go once the shared client tells a 404 apart from other refusals.
    """

    def _decode(self, *call, **options) -> dict:
        response: httpx.Response = call[-1]
        if response.status_code == 404:
            raise EndpointMissing(f"{response.request.url.path} not found")
        return super()._decode(*call, **options)


class GatewayConnector(Connector):
    vendor = Vendor.OPENAI_COMPATIBLE
    # Every gateway lives somewhere else: the user always gives the address.
    default_base_url = ""
    reports_balance = True

    def __init__(self, base_url: str, admin_key: str, **client_options):
        self.client = GatewayClient(
            base_url, self.auth_headers(admin_key), **client_options
        )

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {admin_key}"}

    def check(self) -> str:
        balance, source = self._read()
        left = f"{balance.available:.2f} {balance.currency}"
        spent = f"{balance.spent_to_date:.2f} {balance.currency}"
        if source == "key":
            return f"key has spent {spent}, {left} left of its limit"
        return f"credits {left} left, {spent} used"

    def balance(self) -> Balance:
        return self._read()[0]

    def _read(self) -> tuple[Balance, str]:
        try:
            credits = field(self.client.get_json("/credits"), "data")
        except EndpointMissing:
            pass
        else:
            bought = _usd(field(credits, "total_credits"))
            used = _usd(field(credits, "total_usage"))
            return Balance(
                "USD", available=bought - used, spent_to_date=used
            ), "credits"

        try:
            key = field(self.client.get_json("/key"), "data")
        except EndpointMissing:
            raise ConnectorError(NO_CREDIT_ENDPOINT) from None
        used = _usd(field(key, "usage"))
        if key.get("limit") is None:
            # A key without a cap has no balance to report, and the account's
            # credits need the /credits endpoint this gateway lacks.
            raise ConnectorError(
                "this gateway reports the key's spend but no balance: give the "
                "key a credit limit at the gateway"
            )
        remaining = key.get("limit_remaining")
        available = (
            _usd(remaining) if remaining is not None else _usd(key["limit"]) - used
        )
        return Balance("USD", available=available, spent_to_date=used), "key"


def _usd(value) -> Decimal:
    try:
        # Gateways send JSON floats; str() keeps the digits they printed.
        return Decimal(str(value))
    except InvalidOperation:
        raise ConnectorError("unexpected response: credit is not a number") from None
