"""POST /api/v1/connections/{id}/billing-export/: a Google billing export upload."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import AdminOnly
from apps.audit.services import Actor
from apps.connectors.models import Connection
from apps.usage.google_billing import import_billing_export


class BillingExportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The standard usage cost table as CSV.")


class BillingExportSummarySerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Daily rows stored.")
    days = serializers.IntegerField()
    projects = serializers.IntegerField()
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    currency = serializers.CharField()
    amount = serializers.DecimalField(20, 10, help_text="Net of credits, in currency.")
    cost_usd = serializers.DecimalField(
        20, 10, allow_null=True, help_text="Null when the export gives no USD rate."
    )
    skipped_lines = serializers.IntegerField(
        help_text="Lines of other services, and taxes."
    )


class BillingExportView(APIView):
    """Import a Google Cloud Billing export into a Google connection (admins only).

    Nothing is stored when any line is bad; the 400 answer names line and column.
    """

    permission_classes = [AdminOnly]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": BillingExportUploadSerializer},
        responses=BillingExportSummarySerializer,
    )
    def post(self, request, pk):
        connection = get_object_or_404(Connection, pk=pk)
        upload = BillingExportUploadSerializer(data=request.data)
        if not upload.is_valid():
            return Response(
                {"detail": "Send the export as the multipart field file."}, status=400
            )
        summary = import_billing_export(
            Actor.from_request(request), connection, upload.validated_data["file"]
        )
        return Response(BillingExportSummarySerializer(summary).data)
