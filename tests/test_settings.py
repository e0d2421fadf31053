from pathlib import Path

import pytest

from assistant.errors import ConfigurationError
from assistant.settings import DEFAULT_MODEL, OPENROUTER_URL, Settings


def test_defaults_point_at_openrouter_and_deepseek() -> None:
    settings = Settings.from_env({})
    assert settings.base_url == OPENROUTER_URL
    assert settings.model == DEFAULT_MODEL and DEFAULT_MODEL.startswith("deepseek/")
    assert settings.api_key is None
    assert settings.offline


def test_a_key_turns_offline_mode_off_and_is_never_printed() -> None:
    settings = Settings.from_env({"OPENROUTER_API_KEY": "sk-or-v1-secret"})
    assert not settings.offline
    assert "sk-or-v1-secret" not in repr(settings)


def test_a_custom_base_url_needs_no_key() -> None:
    settings = Settings.from_env({"OPENROUTER_BASE_URL": "http://127.0.0.1:11434/v1/"})
    assert settings.base_url == "http://127.0.0.1:11434/v1"
    assert not settings.offline


def test_secrets_win_over_environment() -> None:
    settings = Settings.from_env(
        {"OPENROUTER_MODEL": "from/env"}, secrets={"OPENROUTER_MODEL": "from/secrets"}
    )
    assert settings.model == "from/secrets"


def test_fallback_models_are_a_comma_list_and_can_be_emptied() -> None:
    listed = Settings.from_env({"OPENROUTER_FALLBACK_MODELS": "a/b, c/d ,"})
    assert listed.fallback_models == ("a/b", "c/d")
    assert Settings.from_env({"OPENROUTER_FALLBACK_MODELS": ""}).fallback_models == ()
    from_secrets = Settings.from_env({}, secrets={"OPENROUTER_FALLBACK_MODELS": ["x/y"]})
    assert from_secrets.fallback_models == ("x/y",)


def test_database_defaults_to_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"ASSISTANT_DATA_DIR": str(tmp_path)})
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path.as_posix()}/assistant.db"
    pg = Settings.from_env({"DATABASE_URL": "postgresql+psycopg://u@h/db"})
    assert pg.sqlalchemy_url == "postgresql+psycopg://u@h/db"


def test_a_non_numeric_timeout_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="ASSISTANT_STALL_TIMEOUT must be a number"):
        Settings.from_env({"ASSISTANT_STALL_TIMEOUT": "soon"})
