from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.audit.services import Actor
from apps.connectors import services
from apps.connectors.forms import ADMIN_KEY_MIN_LENGTH
from apps.connectors.models import Connection


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
        ]
        read_only_fields = [
            "admin_key_hint",
            "status",
            "last_checked_at",
            "last_success_at",
            "last_error",
            "last_synced_at",
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
