from pathlib import Path

import pytest

from assistant.errors import ConfigurationError
from assistant.roles import DEFAULT_ROLE_ID, builtin_roles, get_role, load_roles

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
