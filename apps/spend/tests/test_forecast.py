from datetime import date, timedelta
from decimal import Decimal

from apps.spend.forecast import HISTORY_DAYS, forecast_month, history_start

# A Wednesday in the middle of a 30-day month.
TODAY = date(2026, 9, 16)


def weeks_of(cost_for, today=TODAY, days=HISTORY_DAYS):
    return {
        today - timedelta(days=n): cost_for(today - timedelta(days=n))
        for n in range(1, days + 1)
    }


def test_steady_spend_projects_the_same_rate_to_month_end():
    daily = weeks_of(lambda day: Decimal(10))

    result = forecast_month(daily, TODAY)

    # The 1st to the 15th spent 10 a day; the 16th to the 30th are expected at 10.
    assert result.spent == Decimal(150)
    assert result.projected == Decimal(300)


def test_weekends_are_projected_as_weekends():
    def weekday_heavy(day):
        return Decimal(0) if day.weekday() >= 5 else Decimal(20)

    result = forecast_month(weeks_of(weekday_heavy), TODAY)

    remaining = [TODAY + timedelta(days=n) for n in range(15)]
    expected_rest = sum(weekday_heavy(day) for day in remaining)
    spent_before = sum(weekday_heavy(date(2026, 9, n)) for n in range(1, TODAY.day))
    assert result.projected == spent_before + expected_rest


def test_today_counts_with_what_it_already_spent_when_that_is_more():
    daily = weeks_of(lambda day: Decimal(10)) | {TODAY: Decimal(50)}

    result = forecast_month(daily, TODAY)

    assert result.spent == Decimal(200)
    assert result.projected == Decimal(150 + 50 + 14 * 10)


def test_no_history_projects_nothing_beyond_what_was_spent():
    result = forecast_month({TODAY: Decimal(7)}, TODAY)

    assert result.spent == result.projected == Decimal(7)


def test_a_young_organization_is_judged_from_its_first_day_of_spend():
    # Spend began three days ago: the empty weeks before it must not dilute it.
    daily = {TODAY - timedelta(days=n): Decimal(30) for n in (1, 2, 3)}

    result = forecast_month(daily, TODAY)

    assert result.projected == Decimal(90 + 15 * 30)


def test_history_reaches_back_four_weeks_or_to_the_first_of_the_month():
    assert history_start(date(2026, 9, 30)) == date(2026, 9, 1)
    assert history_start(date(2026, 9, 5)) == date(2026, 8, 8)
