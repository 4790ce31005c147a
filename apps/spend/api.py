"""GET /api/v1/spend/: spend per group as JSON, or as CSV with ?format=csv."""

import csv
import io

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.spend.query import parse_spend_query
from apps.spend.report import FILTERS, GROUPS, ROW_FIELDS, spend_report
from apps.spend.serialize import report_json


class SpendCSVRenderer(renderers.BaseRenderer):
    """The report's rows, one line each, under a header of the JSON row fields."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if not isinstance(data, dict) or "rows" not in data:
            # An error answer: its message, readable by a person opening the file.
            writer.writerow(["error"])
            writer.writerow([error_text(data)])
            return out.getvalue().encode()
        writer.writerow(ROW_FIELDS)
        for row in data["rows"]:
            writer.writerow([row[name] for name in ROW_FIELDS])
        return out.getvalue().encode()


def error_text(data) -> str:
    if isinstance(data, dict):
        return " ".join(
            f"{name}: {' '.join(v) if isinstance(v, list) else v}"
            for name, v in data.items()
        )
    return str(data)


class SpendTotalSerializer(serializers.Serializer):
    cost_usd = serializers.DecimalField(max_digits=20, decimal_places=6)
    unpriced = serializers.IntegerField(help_text="Tokens of models with no price.")
    input_tokens = serializers.IntegerField(help_text="Uncached input only.")
    cached_input_tokens = serializers.IntegerField()
    cache_write_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    requests = serializers.IntegerField()


class SpendRowSerializer(SpendTotalSerializer):
    group = serializers.CharField(
        help_text="A display name; 'unattributed' for usage on no vault key."
    )
    group_id = serializers.IntegerField(allow_null=True)


class SpendReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive.")
    group_by = serializers.ChoiceField(GROUPS)
    currency = serializers.CharField()
    rows = SpendRowSerializer(many=True)
    total = SpendTotalSerializer()


PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="Default: the 1st."),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, description="Exclusive. Default: tomorrow."
    ),
    OpenApiParameter("group_by", OpenApiTypes.STR, enum=GROUPS),
    OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
    *(
        OpenApiParameter(
            name,
            OpenApiTypes.STR,
            description="Ids, comma-separated or repeated."
            if name not in ("vendor", "model")
            else "Names, comma-separated or repeated.",
        )
        for name in FILTERS
    ),
]


class SpendView(APIView):
    """Spend per team, project, environment, vendor, model, key or day.

    Read from the daily rollup; engineers see their teams' keys only.
    """

    permission_classes = [IsAuthenticated]
    renderer_classes = [renderers.JSONRenderer, SpendCSVRenderer]

    @extend_schema(parameters=PARAMETERS, responses=SpendReportSerializer)
    def get(self, request):
        try:
            query = parse_spend_query(request.query_params)
        except ValidationError as exc:
            return Response(exc.message_dict, status=400)
        report = spend_report(
            request.user, query.start, query.end, query.group_by, query.filters
        )
        response = Response(report_json(report))
        if request.accepted_renderer.format == "csv":
            name = f"spend-{query.group_by}-{query.start}-{query.end}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
