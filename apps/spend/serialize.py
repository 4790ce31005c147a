"""A spend report as the JSON the API and the explorer's downloads answer with."""

from decimal import Decimal

from apps.spend.report import ROW_FIELDS, SpendReport, SpendRow

MICRODOLLAR = Decimal("0.000001")


def money(value: Decimal | None) -> str | None:
    """A decimal string in USD, to the millionth of a dollar."""
    if value is None:
        return None
    return str(value.quantize(MICRODOLLAR))


def row_json(row: SpendRow) -> dict:
    values = {name: getattr(row, name) for name in ROW_FIELDS}
    values["cost_usd"] = money(row.cost_usd)
    return values


def report_json(report: SpendReport) -> dict:
    total = row_json(report.total)
    del total["group"], total["group_id"]
    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "group_by": report.group_by,
        "currency": "USD",
        "rows": [row_json(row) for row in report.rows],
        "total": total,
    }
