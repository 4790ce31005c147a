from decimal import Decimal

import pytest

from apps.spend.templatetags.spend import change, percent, tokens, usd


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (9_999, "9,999"),
        (10_800, "10.8k"),
        (2_500_000, "2.5M"),
        (3_000_000_000, "3.0B"),
    ],
)
def test_token_counts_read_at_a_glance(value, shown):
    assert tokens(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1234.565"), "$1,234.57"),
        (Decimal("0.004"), "< $0.01"),
        (Decimal(0), "$0.00"),
        (Decimal("-95.785"), "-$95.79"),
        (None, "unknown"),
    ],
)
def test_money_is_shown_to_the_cent(value, shown):
    assert usd(value) == shown


def test_changes_say_up_or_down():
    assert change(Decimal(150), Decimal(100)) == "up 50.0%"
    assert change(Decimal(50), Decimal(100)) == "down 50.0%"
    assert change(Decimal(50), Decimal(0)) == "nothing to compare"
    assert percent(None) == "-"
