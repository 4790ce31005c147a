"""DeepSeek and Moonshot account balances: the only billing data they publish."""

from datetime import UTC, datetime
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


# OpenRouter-style gateway: a running total of spend and of credits bought, as
# documented at openrouter.ai/docs/api/api-reference/credits/get-credits and
# .../api-keys/get-current-key.
GATEWAY_EPOCH = 1735689600  # 2025-01-01T00:00:00Z, when the synthetic account opened
GATEWAY_SPEND_PER_DAY = Decimal("4.20")
GATEWAY_PURCHASE = Decimal("50")
GATEWAY_PURCHASE_PERIOD = 10 * DAY
# The capped key's monthly limit: above a month of spend, so it never runs out.
GATEWAY_KEY_LIMIT = Decimal("200")


def _gateway_usage(sim, since: int = GATEWAY_EPOCH) -> Decimal:
    """What the account spent from ``since`` until the simulator's now."""
    elapsed = max(sim.now() - max(since, GATEWAY_EPOCH), 0)
    return (Decimal(elapsed) / DAY * GATEWAY_SPEND_PER_DAY).quantize(Decimal("1e-6"))


def gateway_credits(sim, request) -> dict:
    # Credits are bought in steps, one purchase every ten days, always ahead of
    # spend, so a poller sees top-ups and spend in the same series.
    purchases = max(sim.now() - GATEWAY_EPOCH, 0) // GATEWAY_PURCHASE_PERIOD + 1
    total_credits = Decimal("25") + GATEWAY_PURCHASE * purchases
    return {
        "data": {
            "total_credits": float(total_credits),
            "total_usage": float(_gateway_usage(sim)),
        }
    }


def _gateway_key(sim, limit: Decimal | None) -> dict:
    now = sim.now()
    usage = _gateway_usage(sim)
    day_start = now - now % DAY
    # Weeks start on Monday, and 1970-01-01 was a Thursday.
    week_start = now - (now + 3 * DAY) % (7 * DAY)
    month_start = _month_start(now)
    monthly = _gateway_usage(sim, month_start)
    key = sim.admin_keys["openai_compatible"]
    return {
        "data": {
            "label": f"{key[:11]}...{key[-3:]}",
            "limit": None if limit is None else float(limit),
            "limit_remaining": None if limit is None else float(limit - monthly),
            "limit_reset": None if limit is None else "monthly",
            "include_byok_in_limit": False,
            "usage": float(usage),
            "usage_daily": float(_gateway_usage(sim, day_start)),
            "usage_weekly": float(_gateway_usage(sim, week_start)),
            "usage_monthly": float(monthly),
            "byok_usage": 0.0,
            "byok_usage_daily": 0.0,
            "byok_usage_weekly": 0.0,
            "byok_usage_monthly": 0.0,
            "is_free_tier": False,
            "is_management_key": limit is None,
            "is_provisioning_key": limit is None,
            "creator_user_id": "user_2dHFtVWx2n56w6HkM0000000000",
            "expires_at": None,
            "rate_limit": {
                "requests": 1000,
                "interval": "1h",
                "note": "This field is deprecated and safe to ignore.",
            },
        }
    }


def _month_start(now: int) -> int:
    moment = datetime.fromtimestamp(now, UTC)
    return int(moment.replace(day=1, hour=0, minute=0, second=0).timestamp())


def gateway_key(sim, request) -> dict:
    return _gateway_key(sim, limit=None)


def capped_gateway_key(sim, request) -> dict:
    return _gateway_key(sim, limit=GATEWAY_KEY_LIMIT)


GATEWAY_ROUTES = [
    ("GET", r"/api/v1/credits", gateway_credits),
    ("GET", r"/api/v1/key", gateway_key),
    # A gateway that publishes only the key endpoint, for the fallback path; the
    # key has a credit limit there, so it has a balance to report.
    ("GET", r"/key-only/v1/key", capped_gateway_key),
]
