from django.core.paginator import Paginator
from django.utils.cache import add_never_cache_headers
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from apps.accounts.models import Team, User
from apps.audit.services import Actor
from apps.connectors.models import Connection
from apps.projects.models import Environment, Project
from apps.vault import services
from apps.vault.models import KeyStatus, Vendor, VendorKey


class KeySerializer(serializers.ModelSerializer):
    secret = serializers.CharField(write_only=True, trim_whitespace=True)
    connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.all(), required=False, allow_null=True
    )
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    environment = serializers.PrimaryKeyRelatedField(queryset=Environment.objects.all())
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True)
    )
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False
    )

    class Meta:
        model = VendorKey
        fields = [
            "id",
            "name",
            "vendor",
            "connection",
            "vendor_key_id",
            "secret",
            "hint",
            "fingerprint",
            "project",
            "environment",
            "owner",
            "allowed_models",
            "monthly_cap_usd",
            "expires_at",
            "status",
            "created_at",
            "rotated_at",
        ]
        read_only_fields = ["hint", "fingerprint", "status", "rotated_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # An existing key keeps its vendor, and its secret changes by rotation.
            fields["vendor"].read_only = True
            fields["secret"].read_only = True
        return fields


class RotateSerializer(serializers.Serializer):
    secret = serializers.CharField(write_only=True, required=False, allow_blank=True)
    vendor_key_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    overlap_hours = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=services.MAX_OVERLAP_HOURS
    )
    create_at_vendor = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Have the vendor create the new key instead of sending `secret`; "
        "the answer then holds its `secret`, this once.",
    )
    vendor_project_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the vendor creates the key; empty: the current key's project.",
    )

    def validate(self, attrs):
        if attrs["create_at_vendor"]:
            if attrs.get("secret") or attrs["vendor_key_id"]:
                raise serializers.ValidationError(
                    "Send either a secret or create_at_vendor, not both: the vendor "
                    "makes the new key and its id."
                )
        elif not attrs.get("secret"):
            raise serializers.ValidationError({"secret": "This field is required."})
        return attrs


class RotatedKeySerializer(KeySerializer):
    """The key after a rotation the vendor made: with the new secret, this once."""

    secret = serializers.CharField(read_only=True)


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    at_vendor = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Have the vendor revoke the key first, through the key's "
        "connection; if it refuses, nothing changes.",
    )


class RevealSerializer(serializers.Serializer):
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False
    )


class KeyFilter(filters.FilterSet):
    vendor = filters.ChoiceFilter(choices=Vendor.choices)
    status = filters.ChoiceFilter(choices=KeyStatus.choices)
    team = filters.ModelChoiceFilter(
        field_name="project__team", queryset=Team.objects.all()
    )
    q = filters.CharFilter(method="search", label="Name, hint or vendor key id")

    class Meta:
        model = VendorKey
        fields = ["vendor", "project", "environment", "status", "owner", "team"]

    def search(self, queryset, name, value):
        return services.search_keys(queryset, value.strip())


class KeyPaginator(Paginator):
    def page(self, number):
        number = self.validate_number(number)
        start = (number - 1) * self.per_page
        rows = services.page_of_keys(self.object_list, start, start + self.per_page)
        return self._get_page(rows, number, self)


class KeyPagination(PageNumberPagination):
    django_paginator_class = KeyPaginator


class KeyViewSet(viewsets.ModelViewSet):
    """Vendor keys in the vault. DELETE is refused: revoke with a reason instead."""

    queryset = VendorKey.objects.all()
    pagination_class = KeyPagination
    serializer_class = KeySerializer
    filterset_class = KeyFilter
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return services.visible_keys(self.request.user).order_by("-created_at", "-id")

    def perform_create(self, serializer):
        serializer.instance = services.register_key(
            Actor.from_request(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer):
        services.update_key(
            Actor.from_request(self.request),
            serializer.instance,
            **serializer.validated_data,
        )

    @extend_schema(
        request=RotateSerializer,
        responses=RotatedKeySerializer,
        description="Rotate to `secret`, or with `create_at_vendor` to a key the "
        "vendor creates; only then does the answer hold `secret`, shown this once.",
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        key = self.get_object()
        body = RotateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        actor = Actor.from_request(request)
        if data.pop("create_at_vendor"):
            _, secret = services.rotate_key_at_vendor(
                actor,
                key,
                vendor_project_id=data["vendor_project_id"],
                overlap_hours=data["overlap_hours"],
            )
            key.refresh_from_db()
            response = Response(KeySerializer(key).data | {"secret": secret})
            add_never_cache_headers(response)
            return response
        data.pop("vendor_project_id")
        services.rotate_key(actor, key, **data)
        key.refresh_from_db()
        return Response(KeySerializer(key).data)

    @extend_schema(request=RevokeSerializer, responses=KeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = self.get_object()
        body = RevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = services.revoke_key(
            Actor.from_request(request), key, **body.validated_data
        )
        return Response(KeySerializer(key).data)

    @extend_schema(
        request=RevealSerializer,
        responses=inline_serializer(
            "RevealedSecret", {"secret": serializers.CharField()}
        ),
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        key = self.get_object()
        body = RevealSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = Actor.from_request(request)
        elevated_until = services.elevate(
            actor, key, body.validated_data.get("password")
        )
        secret = services.reveal_key(actor, key, elevated_until=elevated_until)
        response = Response({"secret": secret})
        add_never_cache_headers(response)
        return response
