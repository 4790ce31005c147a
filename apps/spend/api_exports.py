"""GET /api/v1/spend/chargeback/ and /api/v1/spend/focus/: a month for finance.

The chargeback answers JSON, or CSV with ?format=csv; the FOCUS export is always a
CSV, streamed.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.spend.api import error_text
from apps.spend.chargeback import (
    chargeback_csv,
    chargeback_json,
    check_can_see_chargeback,
    monthly_chargeback,
    parse_month,
)
from apps.spend.focus import focus_download

MONTH = OpenApiParameter(
    "month",
    OpenApiTypes.STR,
    description="YYYY-MM. Default: the previous complete month.",
)


class ChargebackCSVRenderer(renderers.BaseRenderer):
    """The chargeback's lines under a header naming each connection."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "lines" in data:
            return chargeback_csv(data).encode()
        # An error answer: its message, readable by a person opening the file.
        return f"error\n{error_text(data)}\n".encode()


class FocusCSVRenderer(ChargebackCSVRenderer):
    """Only error answers pass through here: the export itself is streamed."""


class ChargebackColumnSerializer(serializers.Serializer):
    connection_id = serializers.IntegerField()
    connection = serializers.CharField()
    vendor = serializers.CharField()
    vendor_name = serializers.CharField()
    computed_usd = serializers.DecimalField(max_digits=20, decimal_places=6)
    reported_usd = serializers.DecimalField(
        max_digits=20,
        decimal_places=6,
        allow_null=True,
        help_text="The vendor's own cost lines in USD; null when it reported none.",
    )
    total_usd = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        help_text="The reported total to the cent, else the computed total.",
    )
    unpriced_tokens = serializers.IntegerField()
    not_counted = serializers.ListField(
        child=serializers.DictField(),
        help_text="Reported or derived amounts in a currency with no USD figure.",
    )


class ChargebackLineSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(["team", "unregistered", "gap"])
    team_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    amounts = serializers.ListField(
        child=serializers.DecimalField(max_digits=20, decimal_places=2),
        help_text="USD, one per column, in the columns' order.",
    )
    total_usd = serializers.DecimalField(max_digits=20, decimal_places=2)
    unpriced_tokens = serializers.IntegerField(
        help_text="Tokens of models with no price: their cost is unknown."
    )


class ChargebackTotalsSerializer(serializers.Serializer):
    amounts = serializers.ListField(
        child=serializers.DecimalField(max_digits=20, decimal_places=2)
    )
    total_usd = serializers.DecimalField(max_digits=20, decimal_places=2)
    unpriced_tokens = serializers.IntegerField()


class ChargebackSerializer(serializers.Serializer):
    month = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive.")
    currency = serializers.CharField()
    method = serializers.CharField()
    columns = ChargebackColumnSerializer(many=True)
    lines = ChargebackLineSerializer(many=True)
    totals = ChargebackTotalsSerializer()


class ChargebackView(APIView):
    """A month's vendor bills split per team, with what nobody owns kept apart.

    Admins and finance only: the chargeback shows every team.
    """

    permission_classes = [IsAuthenticated]
    renderer_classes = [renderers.JSONRenderer, ChargebackCSVRenderer]

    @extend_schema(
        parameters=[
            MONTH,
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
        ],
        responses=ChargebackSerializer,
    )
    def get(self, request):
        check_can_see_chargeback(request.user)
        try:
            month = parse_month(request.query_params.get("month"))
        except ValueError as exc:
            return Response({"month": [str(exc)]}, status=400)
        data = chargeback_json(monthly_chargeback(request.user, month))
        response = Response(data)
        if request.accepted_renderer.format == "csv":
            name = f"chargeback-{data['month']}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class FocusView(APIView):
    """A month of spend as a FOCUS 1.0 CSV; engineers get their teams' keys only."""

    permission_classes = [IsAuthenticated]
    renderer_classes = [FocusCSVRenderer, renderers.JSONRenderer]

    @extend_schema(parameters=[MONTH], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request):
        try:
            month = parse_month(request.query_params.get("month"))
        except ValueError as exc:
            return Response({"month": [str(exc)]}, status=400)
        return focus_download(request.user, month)
