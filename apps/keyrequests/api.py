from decimal import Decimal

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from apps.audit.services import Actor
from apps.connectors.models import Connection
from apps.keyrequests import services
from apps.keyrequests.models import KeyRequest
from apps.projects.models import Environment, Project


# "KeyRequest" would collide with the request body drf-spectacular names for keys/.
@extend_schema_serializer(component_name="ScopedKeyRequest")
class KeyRequestSerializer(serializers.ModelSerializer):
    """A request as lists and details show it; it never carries a secret."""

    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    environment = serializers.PrimaryKeyRelatedField(queryset=Environment.objects.all())
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )
    monthly_cap_usd = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01")
    )

    class Meta:
        model = KeyRequest
        fields = [
            "id",
            "requester",
            "project",
            "environment",
            "vendor",
            "allowed_models",
            "monthly_cap_usd",
            "expires_at",
            "justification",
            "state",
            "decided_by",
            "key",
            "reason",
            "created_at",
            "decided_at",
        ]
        read_only_fields = [
            "requester",
            "state",
            "decided_by",
            "key",
            "reason",
            "created_at",
            "decided_at",
        ]


class KeyRequestApproveSerializer(serializers.Serializer):
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=True
    )
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    vendor_key_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True
    )

    def validate(self, attrs):
        if attrs.get("secret") and not attrs.get("name"):
            raise serializers.ValidationError({"name": "Name the key to issue it."})
        return attrs


class KeyRequestIssueSerializer(serializers.Serializer):
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=True
    )
    name = serializers.CharField(max_length=100)
    vendor_key_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True
    )
    connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.all(),
        required=False,
        allow_null=True,
        help_text="The vendor organization of the key. Without `secret`, the "
        "vendor creates the key through it.",
    )
    vendor_project_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Where the vendor creates the key, when it does.",
    )

    def validate(self, attrs):
        if not attrs.get("secret") and not attrs.get("connection"):
            raise serializers.ValidationError(
                "Send the secret, or a connection and a vendor_project_id to have "
                "the vendor create the key."
            )
        return attrs


class KeyRequestReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class KeyRequestCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


SECRET_RESPONSE = inline_serializer(
    "KeyRequestSecret", {"secret": serializers.CharField()}
)
GONE = OpenApiResponse(description="Already viewed, or the 24-hour window passed.")


class KeyRequestViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Requests for scoped keys: engineers ask, another admin approves and issues.

    Engineers list only their own requests; admins and finance list all.
    """

    queryset = KeyRequest.objects.all()
    serializer_class = KeyRequestSerializer
    # Engineers write here too: the services decide who may do what.
    permission_classes = [IsAuthenticated]
    filterset_fields = ["state", "project", "environment", "vendor", "requester"]

    def get_queryset(self):
        return services.visible_requests(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.create_request(
            Actor.from_request(self.request), **serializer.validated_data
        )

    @extend_schema(
        request=KeyRequestApproveSerializer,
        responses=KeyRequestSerializer,
        description="Approve a pending request (admins, never the requester). With "
        "`secret` and `name` (and optionally `vendor_key_id`) in the body, the key is "
        "issued in the same call and the request ends `issued`.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._change(request, KeyRequestApproveSerializer, services.approve)

    @extend_schema(request=KeyRequestReasonSerializer, responses=KeyRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a pending request with a reason (admins, never the requester)."""
        return self._change(request, KeyRequestReasonSerializer, services.reject)

    @extend_schema(
        request=KeyRequestIssueSerializer,
        responses=KeyRequestSerializer,
        description="Issue the approved request's key: the `secret` created at the "
        "vendor, or, with `connection` and `vendor_project_id` instead, a key the "
        "vendor creates now. The requester then views it once.",
    )
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        return self._change(request, KeyRequestIssueSerializer, services.issue)

    @extend_schema(request=KeyRequestCancelSerializer, responses=KeyRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel: the requester while pending, an admin once approved."""
        return self._change(request, KeyRequestCancelSerializer, services.cancel)

    @extend_schema(request=None, responses={200: SECRET_RESPONSE, 410: GONE})
    @action(detail=True, methods=["post"])
    def secret(self, request, pk=None):
        """Return the issued secret to the requester, once, within 24 hours."""
        key_request = self.get_object()
        try:
            secret = services.reveal_once(Actor.from_request(request), key_request)
        except services.SecretViewRefused as exc:
            body = {"detail": " ".join(exc.messages), "code": exc.code}
            response = Response(body, status=status.HTTP_410_GONE)
        else:
            response = Response({"secret": secret})
        response["Cache-Control"] = "no-store"
        return response

    def _change(self, request, serializer_class, change):
        key_request = self.get_object()
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        change(Actor.from_request(request), key_request, **body.validated_data)
        return Response(KeyRequestSerializer(key_request).data)
