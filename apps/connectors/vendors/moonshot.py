"""Moonshot (Kimi): no usage API; the account balance is all it publishes."""

from decimal import Decimal, InvalidOperation

from apps.connectors.vendors.base import Connector, ConnectorError, field
from apps.vault.models import Vendor


class MoonshotConnector(Connector):
    vendor = Vendor.MOONSHOT
    default_base_url = "https://api.moonshot.cn"

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {admin_key}"}

    def check(self) -> str:
        answer = self.client.get_json("/v1/users/me/balance")
        available = field(answer, "data", "available_balance")
        try:
            # Moonshot sends JSON floats; str() keeps the digits it printed.
            amount = Decimal(str(available))
        except InvalidOperation:
            raise ConnectorError(
                "unexpected response: balance is not a number"
            ) from None
        # api.moonshot.cn bills in CNY; the international api.moonshot.ai in USD.
        currency = "USD" if "moonshot.ai" in self.client.base_url else "CNY"
        return f"balance {amount:.2f} {currency} available"
