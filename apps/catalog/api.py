from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets

from apps.audit.services import Actor
from apps.catalog import services
from apps.catalog.models import PriceOverride
from apps.projects.models import Tier

ROW_FIELDS = [
    "id",
    "vendor",
    "model",
    "tier",
    "input_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "output_per_mtok",
    "context_window",
    "effective_from",
    "source",
]


class ModelRowSerializer(serializers.Serializer):
    """A catalog row (id null) or an override (its id), read-only."""

    id = serializers.IntegerField(allow_null=True)
    vendor = serializers.CharField()
    model = serializers.CharField()
    tier = serializers.ChoiceField(choices=Tier.choices)
    input_per_mtok = serializers.DecimalField(12, 6, allow_null=True)
    cached_input_per_mtok = serializers.DecimalField(12, 6, allow_null=True)
    cache_write_per_mtok = serializers.DecimalField(12, 6, allow_null=True)
    output_per_mtok = serializers.DecimalField(12, 6, allow_null=True)
    context_window = serializers.IntegerField(allow_null=True)
    effective_from = serializers.DateField(allow_null=True)
    source = serializers.ChoiceField(choices=["catalog", "override"])


class PriceOverrideSerializer(serializers.ModelSerializer):
    tier = serializers.SerializerMethodField()
    source = serializers.SerializerMethodField()

    class Meta:
        model = PriceOverride
        fields = ROW_FIELDS

    def get_tier(self, override) -> str:
        return services.tier_of(override.vendor, override.model)

    def get_source(self, override) -> str:
        return "override"


@extend_schema(
    parameters=[OpenApiParameter("vendor", str), OpenApiParameter("model", str)]
)
class ModelViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Models and their prices; writes (admins) create, change and delete overrides.

    The list holds the catalog's rows (``source`` catalog, ``id`` null) and the
    overrides (``source`` override); an id in the path is always an override's.
    """

    queryset = PriceOverride.objects.all()
    serializer_class = PriceOverrideSerializer
    filter_backends = []

    def list(self, request, *args, **kwargs):
        rows = services.catalog_rows(
            vendor=request.query_params.get("vendor", ""),
            model=request.query_params.get("model", ""),
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ModelRowSerializer(page, many=True).data)

    def get_serializer_class(self):
        if self.action == "list":
            return ModelRowSerializer
        return PriceOverrideSerializer

    def perform_create(self, serializer):
        serializer.instance = services.create_override(
            Actor.from_request(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer):
        services.update_override(
            Actor.from_request(self.request),
            serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.delete_override(Actor.from_request(self.request), instance)
