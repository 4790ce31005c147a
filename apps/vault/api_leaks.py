"""POST /api/v1/leak-check/: the leak check for scripts, e.g. a CI step."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from apps.accounts.permissions import AdminOnly
from apps.audit.services import Actor
from apps.vault import leaks


class LeakCheckRequestSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False)

    def validate_text(self, text):
        if len(text.encode()) > leaks.MAX_TEXT_BYTES:
            raise serializers.ValidationError(
                "The leak check reads at most 1 MB: send a shorter excerpt."
            )
        return text


class FindingSerializer(serializers.Serializer):
    vendor = serializers.CharField()
    hint = serializers.CharField()
    line = serializers.IntegerField()
    in_vault = serializers.BooleanField()
    key = serializers.IntegerField(source="key.pk", allow_null=True, default=None)
    key_status = serializers.CharField(
        source="key.status", allow_null=True, default=None
    )
    version = serializers.IntegerField(
        source="version.number", allow_null=True, default=None
    )
    version_current = serializers.BooleanField(allow_null=True)


class LeakCheckResultSerializer(serializers.Serializer):
    findings = FindingSerializer(many=True)


class LeakCheckViewSet(viewsets.ViewSet):
    """Find key-shaped strings in a text and say which vault keys they are.

    The text is neither stored nor logged; findings carry the hint, never the value.
    """

    permission_classes = [AdminOnly]

    @extend_schema(
        request=LeakCheckRequestSerializer, responses=LeakCheckResultSerializer
    )
    def create(self, request):
        body = LeakCheckRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        findings = leaks.check_text(
            Actor.from_request(request), body.validated_data["text"]
        )
        return Response(LeakCheckResultSerializer({"findings": findings}).data)
