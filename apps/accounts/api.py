from django.contrib.auth.password_validation import validate_password
from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets

from apps.accounts import services
from apps.accounts.models import Role, Team, User
from apps.accounts.permissions import AdminOnly
from apps.audit.services import Actor


class UserSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(
        choices=Role.choices, source="effective_role", default=Role.ENGINEER
    )
    teams = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), many=True, required=False
    )
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )

    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "teams", "password", "is_active"]

    def validate_password(self, value):
        validate_password(value, self.instance)
        return value

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if "effective_role" in values:
            values["role"] = values.pop("effective_role")
        return values


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug"]


class UserViewSet(viewsets.ModelViewSet):
    """Users and their role and teams. Admins only; DELETE deactivates the user."""

    queryset = User.objects.prefetch_related("teams")
    serializer_class = UserSerializer
    permission_classes = [AdminOnly]
    filterset_fields = ["role", "is_active", "teams"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.create_user(
            Actor.from_request(self.request),
            password=data.pop("password", None),
            teams=data.pop("teams", []),
            **data,
        )

    def perform_update(self, serializer):
        actor = Actor.from_request(self.request)
        data = dict(serializer.validated_data)
        password = data.pop("password", None)
        serializer.instance = services.update_user(actor, serializer.instance, **data)
        if password:
            services.set_password(actor, serializer.instance, password)

    def perform_destroy(self, instance):
        # Users are kept so that their keys, requests and audit events stay named.
        services.update_user(
            Actor.from_request(self.request), instance, is_active=False
        )


class TeamFilter(filters.FilterSet):
    class Meta:
        model = Team
        fields = ["slug"]


class TeamViewSet(viewsets.ModelViewSet):
    """Teams; engineers see the teams they belong to, admins change them."""

    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    filterset_class = TeamFilter

    def get_queryset(self):
        return services.visible_teams(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.create_team(
            Actor.from_request(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer):
        services.update_team(
            Actor.from_request(self.request),
            serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.delete_team(Actor.from_request(self.request), instance)
