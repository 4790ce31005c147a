from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.audit.services import Actor
from apps.connectors import services
from apps.connectors.forms import ADMIN_KEY_MIN_LENGTH
from apps.connectors.models import Connection
from apps.usage import services as usage
from apps.usage.models import SyncRun
from apps.usage.reconciliation import reconcile


class ConnectionSerializer(serializers.ModelSerializer):
    admin_key = serializers.CharField(
        write_only=True,
        min_length=ADMIN_KEY_MIN_LENGTH,
        style={"input_type": "password"},
    )
    base_url = serializers.URLField(max_length=300, required=False, allow_blank=True)

    class Meta:
        model = Connection
        fields = [
            "id",
            "name",
            "vendor",
            "base_url",
            "admin_key",
            "admin_key_hint",
            "enabled",
            "sync_interval_minutes",
            "status",
            "last_checked_at",
            "last_success_at",
            "last_error",
            "last_synced_at",
            "synced_through",
            "usd_per_unit",
        ]
        read_only_fields = [
            "admin_key_hint",
            "status",
            "last_checked_at",
            "last_success_at",
            "last_error",
            "last_synced_at",
            "synced_through",
        ]
        extra_kwargs = {"sync_interval_minutes": {"min_value": 5}}

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # On update the stored key stays unless a new one is sent.
            fields["admin_key"].required = False
        return fields


class ConnectionTestResultSerializer(ConnectionSerializer):
    result = serializers.CharField(read_only=True)

    class Meta(ConnectionSerializer.Meta):
        fields = [*ConnectionSerializer.Meta.fields, "result"]


class SyncRunSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "trigger",
            "window_start",
            "window_end",
            "started_at",
            "finished_at",
            "duration_seconds",
            "outcome",
            "pages",
            "rows",
            "error",
        ]

    def get_duration_seconds(self, run) -> float | None:
        return run.duration.total_seconds() if run.duration else None


class ReconciliationQuery(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs):
        today = timezone.now().date()
        attrs.setdefault("end", today + timedelta(days=1))
        attrs.setdefault("start", attrs["end"] - timedelta(days=30))
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError("start must come before end")
        return attrs


class ReconciliationDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    computed_usd = serializers.DecimalField(max_digits=20, decimal_places=10)
    unpriced_tokens = serializers.IntegerField()
    reported_usd = serializers.DecimalField(
        max_digits=20, decimal_places=10, allow_null=True
    )
    drift_usd = serializers.DecimalField(
        max_digits=20, decimal_places=10, allow_null=True
    )
    drift_percent = serializers.DecimalField(
        max_digits=20, decimal_places=4, allow_null=True
    )


class ConnectionViewSet(viewsets.ModelViewSet):
    """Vendor connections: admins change and test them, finance reads them."""

    queryset = Connection.objects.all()
    serializer_class = ConnectionSerializer

    def get_queryset(self):
        return services.visible_connections(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.create_connection(
            Actor.from_request(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer):
        services.update_connection(
            Actor.from_request(self.request),
            serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.delete_connection(Actor.from_request(self.request), instance)

    @extend_schema(request=None, responses=ConnectionTestResultSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Make the vendor's cheap authenticated call now and report the outcome."""
        connection = self.get_object()
        result = services.test_connection(Actor.from_request(request), connection)
        connection.result = result
        return Response(ConnectionTestResultSerializer(connection).data)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Queue a sync of this connection now; its run appears under sync-runs."""
        connection = self.get_object()
        usage.request_sync(Actor.from_request(request), connection)
        return Response({"detail": "sync queued"}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=SyncRunSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="sync-runs")
    def sync_runs(self, request, pk=None):
        """The connection's latest sync runs, newest first."""
        runs = usage.sync_history(self.get_object())
        return Response(SyncRunSerializer(runs, many=True).data)

    @extend_schema(
        parameters=[ReconciliationQuery],
        responses=ReconciliationDaySerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def reconciliation(self, request, pk=None):
        """Computed beside reported cost per day; default the last 30 days."""
        connection = self.get_object()
        query = ReconciliationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        days = reconcile(
            connection, query.validated_data["start"], query.validated_data["end"]
        )
        return Response(ReconciliationDaySerializer(days, many=True).data)
