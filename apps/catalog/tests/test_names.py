import pytest

from apps.catalog.names import normalize_model_name

CASES = [
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("gpt-3.5-turbo-0613", "gpt-3.5-turbo"),
    ("gemini-1.5-pro-002", "gemini-1.5-pro"),
    ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
    ("openai/gpt-4o", "gpt-4o"),
    ("anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
    ("models/gemini-2.5-pro", "gemini-2.5-pro"),
    ("claude-sonnet-4-5@us-east-1", "claude-sonnet-4-5"),
    ("gpt-4o:eu", "gpt-4o"),
    ("  GPT-4o-Mini ", "gpt-4o-mini"),
    ("claude-sonnet-4-20250514", "claude-sonnet-4-0"),
    ("gpt-5.4-mini", "gpt-5.4-mini"),
    ("glm-4.5", "glm-4.5"),
    ("deepseek-chat", "deepseek-chat"),
]


@pytest.mark.parametrize(("name", "normalized"), CASES)
def test_model_name_is_normalized(name, normalized):
    assert normalize_model_name(name) == normalized


def test_normalizing_twice_changes_nothing():
    for _, normalized in CASES:
        assert normalize_model_name(normalized) == normalized
