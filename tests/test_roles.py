import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

import assistant.roles
from assistant.errors import ConfigurationError
from assistant.roles import (
    DEFAULT_ROLE_ID,
    builtin_roles,
    get_role,
    load_roles,
    role_from_mapping,
)
from assistant.settings import Settings

BUILT_IN = {"gadget", "healthcare", "sentiment", "tech_support", "legal", "customer_service"}


def test_every_built_in_role_is_loaded_with_its_fields() -> None:
    roles = builtin_roles()
    assert set(roles) == BUILT_IN
    for role in roles.values():
        assert role.name and role.icon and role.description and role.system_prompt
        assert len(role.starters) >= 2
        assert role.temperature is None or 0 <= role.temperature <= 2


def test_healthcare_role_is_not_a_diagnosis_and_names_emergencies() -> None:
    role = builtin_roles()["healthcare"]
    prompt = role.system_prompt.lower()
    assert "do not diagnose" in prompt
    assert "emergency" in prompt and "label" in prompt
    assert "not a diagnosis" in role.notice


def test_legal_role_says_it_is_not_legal_advice() -> None:
    role = builtin_roles()["legal"]
    assert "not legal advice" in role.notice and "not legal advice" in role.system_prompt


def test_adding_a_role_is_adding_a_file(tmp_path: Path) -> None:
    (tmp_path / "chef.toml").write_text(
        'id = "chef"\nname = "Chef"\nicon = "🍳"\ndescription = "Cooks."\n'
        'system_prompt = "You are a chef."\nstarters = ["What can I cook with eggs?"]\n',
        encoding="utf-8",
    )
    roles = load_roles(tmp_path)
    assert roles["chef"].starters == ("What can I cook with eggs?",)
    assert roles["chef"].temperature is None


def test_a_broken_role_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('id = "bad"\nname = "Bad"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.toml.*icon"):
        load_roles(tmp_path)


def test_unknown_role_ids_fall_back_to_the_default_role() -> None:
    assert get_role("no-such-role").id == DEFAULT_ROLE_ID


# --- output schemas ---------------------------------------------------------------------------

ROLE = (
    'id = "rater"\nname = "Rater"\nicon = "⭐"\ndescription = "Rates."\nsystem_prompt = "Rate."\n'
)
STRICT = {
    "type": "object",
    "properties": {"stars": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["stars"],
    "additionalProperties": False,
}


def rater(folder: Path, schema: object, *, reference: str = "rater.schema.json") -> None:
    (folder / "rater.toml").write_text(ROLE + f'output_schema = "{reference}"\n', "utf-8")
    (folder / "rater.schema.json").write_text(json.dumps(schema), encoding="utf-8")


def test_the_sentiment_role_asks_for_its_schema_file_strictly() -> None:
    role = builtin_roles()["sentiment"]
    folder = Path(assistant.roles.__file__).parent
    schema = json.loads((folder / "sentiment.schema.json").read_text(encoding="utf-8"))
    assert role.output_schema == schema
    assert role.response_format() == {
        "type": "json_schema",
        "json_schema": {"name": "sentiment", "strict": True, "schema": schema},
    }
    jsonschema.Draft202012Validator.check_schema(schema)
    # Strict structured output needs every property required and no extras allowed.
    assert set(schema["required"]) == set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_roles_without_a_schema_ask_for_prose() -> None:
    for role in builtin_roles().values():
        if role.id != "sentiment":
            assert role.output_schema is None and role.response_format() is None


def test_a_request_never_shares_the_roles_schema(tmp_path: Path) -> None:
    rater(tmp_path, STRICT)
    role = load_roles(tmp_path)["rater"]
    request = role.response_format()
    assert request is not None
    request["json_schema"]["schema"]["properties"]["stars"]["maximum"] = 10
    assert role.output_schema == STRICT


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (STRICT | {"additionalProperties": True}, "additionalProperties"),
        (STRICT | {"required": []}, "required"),
        ({**STRICT, "properties": {"stars": {"type": "string", "pattern": "^x"}}}, "pattern"),
        ({**STRICT, "properties": {"stars": {"minimum": 1}}}, "needs a type"),
        (["not", "an", "object"], "top level"),
    ],
)
def test_a_schema_this_app_cannot_check_is_refused_when_loading(
    tmp_path: Path, schema: object, message: str
) -> None:
    rater(tmp_path, schema)
    with pytest.raises(ConfigurationError, match=rf"rater\.schema\.json.*{message}"):
        load_roles(tmp_path)


def test_a_schema_outside_the_roles_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "roles"
    folder.mkdir()
    rater(folder, STRICT, reference="../secret.json")
    with pytest.raises(ConfigurationError, match=r"rater\.toml.*file name"):
        load_roles(folder)


def test_a_missing_schema_file_names_it(tmp_path: Path) -> None:
    rater(tmp_path, STRICT, reference="missing.schema.json")
    with pytest.raises(ConfigurationError, match=r"missing\.schema\.json"):
        load_roles(tmp_path)


def test_users_own_roles_cannot_name_a_schema_file() -> None:
    data = {
        "id": "mine",
        "name": "Mine",
        "icon": "🙂",
        "description": "Mine.",
        "system_prompt": "Be mine.",
        "output_schema": "sentiment.schema.json",
    }
    with pytest.raises(ConfigurationError, match="output_schema"):
        role_from_mapping(data, custom=True)


def test_a_role_can_cap_its_replies_and_a_bad_cap_names_the_field(tmp_path: Path) -> None:
    base = {"id": "brief", "name": "Brief", "icon": "✂", "description": "d", "system_prompt": "p"}
    assert role_from_mapping({**base, "max_tokens": 200}).max_tokens == 200
    assert role_from_mapping(base).max_tokens is None
    for bad in (0, -5, 2.5, "many", True):
        with pytest.raises(ConfigurationError, match="max_tokens"):
            role_from_mapping({**base, "max_tokens": bad}, source="brief.toml")


def test_the_smaller_of_a_roles_cap_and_the_setting_reaches_the_provider() -> None:
    from assistant.chat import Assistant
    from assistant.context import ChatTurn
    from tests.fake_openrouter import TEXT_MODEL, FakeOpenRouter

    role = builtin_roles()["gadget"]
    with FakeOpenRouter() as fake:
        for role_cap, setting, sent in (
            (50, None, 50),
            (50, 30, 30),
            (None, 40, 40),
            (None, None, None),
        ):
            settings = Settings(
                api_key="k", base_url=fake.url, fallback_models=(), max_tokens=setting
            )
            capped = replace(role, max_tokens=role_cap)
            list(
                Assistant(settings).stream_reply(capped, [ChatTurn("user", "Hi")], model=TEXT_MODEL)
            )
            assert fake.chat_requests[-1].json.get("max_tokens") == sent
