"""DeepSeek: no usage API; the account balance is all it publishes."""

from decimal import Decimal, InvalidOperation

from apps.connectors.vendors.base import Connector, ConnectorError, field
from apps.vault.models import Vendor


class DeepSeekConnector(Connector):
    vendor = Vendor.DEEPSEEK
    default_base_url = "https://api.deepseek.com"

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {admin_key}"}

    def check(self) -> str:
        answer = self.client.get_json("/user/balance")
        balance = field(answer, "balance_infos", 0)
        total = _decimal(field(balance, "total_balance"))
        currency = field(balance, "currency")
        if not field(answer, "is_available"):
            return f"balance {total:.2f} {currency}, not enough to make calls"
        return f"balance {total:.2f} {currency} available"


def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ConnectorError("unexpected response: balance is not a number") from None
