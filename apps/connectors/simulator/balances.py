"""DeepSeek and Moonshot account balances: the only billing data they publish."""

from decimal import Decimal

DAY = 86400
TOP_UP_PERIOD = 30 * DAY


def _spent(sim, per_day: Decimal) -> Decimal:
    # Balances fall with the clock, so a connector polling them sees deltas, and
    # are topped up again every 30 days, so they never run out in a long demo.
    days = Decimal(sim.now() % TOP_UP_PERIOD) / Decimal(DAY)
    return (days * per_day).quantize(Decimal("0.01"))


def deepseek_balance(sim, request) -> dict:
    granted = Decimal("10.00")
    topped_up = Decimal("500.00") - _spent(sim, Decimal("3.70"))
    return {
        "is_available": granted + topped_up > 0,
        "balance_infos": [
            {
                "currency": "CNY",
                "total_balance": str(granted + topped_up),
                "granted_balance": str(granted),
                "topped_up_balance": str(topped_up),
            }
        ],
    }


def moonshot_balance(sim, request) -> dict:
    voucher = Decimal("46.58893")
    cash = Decimal("300.00001") - _spent(sim, Decimal("2.15"))
    # Arrears leave cash negative; then only the voucher counts as available.
    available = voucher + cash if cash > 0 else voucher
    return {
        "code": 0,
        "data": {
            "available_balance": float(available),
            "voucher_balance": float(voucher),
            "cash_balance": float(cash),
        },
        "scode": "0x0",
        "status": True,
    }


DEEPSEEK_ROUTES = [("GET", r"/user/balance", deepseek_balance)]
MOONSHOT_ROUTES = [("GET", r"/v1/users/me/balance", moonshot_balance)]
