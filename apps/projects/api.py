from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.models import Team
from apps.audit.services import Actor
from apps.projects import services
from apps.projects.models import DEFAULT_MAX_TIER, Environment, Project


class ProjectSerializer(serializers.ModelSerializer):
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())

    class Meta:
        model = Project
        fields = ["id", "name", "slug", "team", "description", "archived_at"]
        read_only_fields = ["archived_at"]


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = [
            "id",
            "project",
            "name",
            "kind",
            "max_tier",
            "max_key_age_days",
            "archived_at",
        ]
        read_only_fields = ["archived_at"]
        extra_kwargs = {"max_tier": {"required": False}}

    def validate(self, attrs):
        if "max_tier" not in attrs and self.instance is None:
            attrs["max_tier"] = DEFAULT_MAX_TIER[attrs["kind"]]
        return attrs


class ArchivedFilter(filters.FilterSet):
    """Lists hide archived objects; ``archived=true`` shows only them, ``all`` both."""

    archived = filters.ChoiceFilter(
        choices=[("false", "false"), ("true", "true"), ("all", "all")],
        method="filter_archived",
        empty_label=None,
    )

    def filter_archived(self, queryset, name, value):
        if value == "true":
            return queryset.exclude(archived_at=None)
        if value == "false":
            return queryset.filter(archived_at=None)
        return queryset


class ProjectFilter(ArchivedFilter):
    class Meta:
        model = Project
        fields = ["team", "slug"]


class EnvironmentFilter(ArchivedFilter):
    class Meta:
        model = Environment
        fields = ["project", "kind", "max_tier"]


class ArchivingViewSet(viewsets.ModelViewSet):
    """DELETE archives (history keeps pointing at the object); restore undoes it."""

    archive_service = None
    restore_service = None

    def get_queryset(self):
        queryset = self.visible(self.request.user)
        if self.action == "list" and "archived" not in self.request.query_params:
            queryset = queryset.filter(archived_at=None)
        return queryset

    def perform_destroy(self, instance):
        self.archive_service(Actor.from_request(self.request), instance)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        instance = self.restore_service(Actor.from_request(request), self.get_object())
        return Response(self.get_serializer(instance).data)


class ProjectViewSet(ArchivingViewSet):
    """Projects, each owned by a team."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    visible = staticmethod(services.visible_projects)
    archive_service = staticmethod(services.archive_project)
    restore_service = staticmethod(services.restore_project)

    def perform_create(self, serializer):
        serializer.instance = services.create_project(
            Actor.from_request(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer):
        services.update_project(
            Actor.from_request(self.request),
            serializer.instance,
            **serializer.validated_data,
        )


class EnvironmentViewSet(ArchivingViewSet):
    """Environments of a project and the highest model tier each may use."""

    queryset = Environment.objects.all()
    serializer_class = EnvironmentSerializer
    filterset_class = EnvironmentFilter
    visible = staticmethod(services.visible_environments)
    archive_service = staticmethod(services.archive_environment)
    restore_service = staticmethod(services.restore_environment)

    def perform_create(self, serializer):
        serializer.instance = services.create_environment(
            Actor.from_request(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer):
        services.update_environment(
            Actor.from_request(self.request),
            serializer.instance,
            **serializer.validated_data,
        )
