"""The vendors Keyhold has an API connector for, by vendor name."""

from apps.connectors.vendors.anthropic import AnthropicConnector
from apps.connectors.vendors.base import Connector, ConnectorError
from apps.connectors.vendors.deepseek import DeepSeekConnector
from apps.connectors.vendors.gateway import GatewayConnector
from apps.connectors.vendors.moonshot import MoonshotConnector
from apps.connectors.vendors.openai import OpenAIConnector

CONNECTORS: dict[str, type[Connector]] = {
    connector.vendor: connector
    for connector in (
        OpenAIConnector,
        AnthropicConnector,
        DeepSeekConnector,
        MoonshotConnector,
        GatewayConnector,
    )
}

__all__ = ["CONNECTORS", "Connector", "ConnectorError"]
