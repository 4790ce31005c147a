"""Anthropic's Admin API (an admin key, sk-ant-admin01-…)."""

from apps.connectors.vendors.base import Connector, field
from apps.vault.models import Vendor

API_VERSION = "2023-06-01"


class AnthropicConnector(Connector):
    vendor = Vendor.ANTHROPIC
    default_base_url = "https://api.anthropic.com"

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"x-api-key": admin_key, "anthropic-version": API_VERSION}

    def check(self) -> str:
        page = self.client.get_json("/v1/organizations/workspaces", {"limit": 1})
        workspaces = field(page, "data")
        if not workspaces:
            # Every organization has a default workspace the API does not list.
            return "organization reachable: default workspace only"
        name = field(workspaces[0], "name")
        more = " and more" if page.get("has_more") else ""
        return f"organization reachable: workspace {name}{more} visible"
