from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets

from apps.accounts.permissions import AdminOnly
from apps.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "action",
            "target_type",
            "target_id",
            "ip",
            "details",
        ]


class AuditEventFilter(filters.FilterSet):
    actor = filters.CharFilter(field_name="actor_name")
    action = filters.CharFilter(lookup_expr="startswith")
    since = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "target_type", "target_id", "ip"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, newest first. Admins only."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    permission_classes = [AdminOnly]
    filterset_class = AuditEventFilter
