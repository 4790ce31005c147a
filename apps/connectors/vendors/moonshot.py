"""Moonshot (Kimi): no usage API; the account balance is all it publishes."""

from decimal import Decimal, InvalidOperation

import httpx

from apps.connectors.rows import Balance
from apps.connectors.vendors.base import Connector, ConnectorError, field
from apps.vault.models import Vendor


class MoonshotConnector(Connector):
    vendor = Vendor.MOONSHOT
    default_base_url = "https://api.moonshot.cn"
    reports_balance = True

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {admin_key}"}

    def check(self) -> str:
        balance = self.balance()
        return f"balance {balance.available:.2f} {balance.currency} available"

    def balance(self) -> Balance:
        answer = self.client.get_json("/v1/users/me/balance")
        available = field(answer, "data", "available_balance")
        try:
            # Moonshot sends JSON floats; str() keeps the digits it printed.
            amount = Decimal(str(available))
        except InvalidOperation:
            raise ConnectorError(
                "unexpected response: balance is not a number"
            ) from None
        return Balance(account_currency(self.client.base_url), amount)


def account_currency(base_url: str) -> str:
    """The currency of the platform behind ``base_url``.

    The balance payload names no currency. platform.moonshot.cn documents its
    balance in yuan (CNY); the international platform, api.moonshot.ai, bills in
    USD. A proxy or simulator at another host reads as the .cn platform.
    """
    host = httpx.URL(base_url).host
    return "USD" if host.endswith(".ai") else "CNY"
