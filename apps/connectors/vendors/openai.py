"""OpenAI's organization admin API (an admin key, sk-admin-…)."""

from apps.connectors.vendors.base import Connector, field
from apps.vault.models import Vendor


class OpenAIConnector(Connector):
    vendor = Vendor.OPENAI
    default_base_url = "https://api.openai.com"

    def auth_headers(self, admin_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {admin_key}"}

    def check(self) -> str:
        page = self.client.get_json("/v1/organization/projects", {"limit": 1})
        projects = field(page, "data")
        if not projects:
            return "organization reachable, no projects yet"
        name = field(projects[0], "name")
        more = " and more" if page.get("has_more") else ""
        return f"organization reachable: project {name}{more} visible"
