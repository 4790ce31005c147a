"""DeepSeek: no usage API; the account balance is all it publishes."""

import logging
from decimal import Decimal, InvalidOperation

from apps.connectors.rows import Balance
from apps.connectors.vendors.base import Connector, ConnectorError, field
from apps.vault.models import Vendor

logger = logging.getLogger(__name__)


class DeepSeekConnector(Connector):
    vendor = Vendor.DEEPSEEK
    default_base_url = "https://api.deepseek.com"
    reports_balance = True

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {admin_key}"}

    def check(self) -> str:
        answer = self.client.get_json("/user/balance")
        balance = _balance(answer)
        total = f"{balance.available:.2f} {balance.currency}"
        if not field(answer, "is_available"):
            return f"balance {total}, not enough to make calls"
        return f"balance {total} available"

    def balance(self) -> Balance:
        return _balance(self.client.get_json("/user/balance"))


def _balance(answer: dict) -> Balance:
    infos = field(answer, "balance_infos")
    if len(infos) > 1:
        # An account holds one currency; a second entry would be a change at
        # DeepSeek that the derived spend must not silently mix in.
        logger.warning("DeepSeek listed %d balances; reading the first", len(infos))
    info = field(answer, "balance_infos", 0)
    return Balance(
        currency=str(field(info, "currency")).upper(),
        available=_decimal(field(info, "total_balance")),
    )


def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ConnectorError("unexpected response: balance is not a number") from None
