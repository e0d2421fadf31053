"""The Account page's API keys, driven through AppTest: make one, see it once, revoke it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from assistant.api_keys import MAX_KEYS, ApiKeys, InvalidApiKeyError
from ui import links

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

    from tests.page_harness import Pages


def tokens_shown(at: AppTest) -> list[str]:
    return [c.value for c in at.code if c.value.startswith("mra_")]


def test_a_member_makes_a_key_sees_it_once_and_revokes_it(pages: Pages) -> None:
    ada = pages.member("ada")
    at = pages.open(links.ACCOUNT, token=ada.token)
    assert "API keys" in [h.value for h in at.subheader]
    assert any("no API keys" in c.value for c in at.caption)

    form = next(block for block in at.form if block.key == "api_key_create")
    form.text_input[0].input("phone app")
    form.button[0].click()
    pages.run(at)

    (token,) = tokens_shown(at)
    keys = ApiKeys(pages.store)
    assert keys.admit(token).user.id == ada.user.id
    assert any(token in c.value for c in at.code if c.language == "python")  # the example
    key_id = token.split("_")[1]
    assert any(f"mra_{key_id}_…" in m.value and "phone app" in m.value for m in at.markdown)

    pages.run(at)  # any later run: the key is listed, its token is gone for good
    assert tokens_shown(at) == []
    assert not any(token in c.value for c in at.code)

    next(b for b in at.button if b.key == f"revoke_key_{key_id}").click()
    pages.run(at)
    next(b for b in at.button if b.key == f"confirm_revoke_{key_id}").click()
    pages.run(at)
    assert any("Revoked the key “phone app”" in s.value for s in at.success)
    assert any("no API keys" in c.value for c in at.caption)
    with pytest.raises(InvalidApiKeyError):
        keys.admit(token)


def test_a_guest_has_no_api_keys_section(pages: Pages) -> None:
    at = pages.open(links.ACCOUNT)
    assert "API keys" not in [h.value for h in at.subheader]
    assert not [block for block in at.form if block.key == "api_key_create"]


def test_a_refused_key_says_why_and_shows_no_token(pages: Pages) -> None:
    ada = pages.member("ada")
    keys = ApiKeys(pages.store)
    for _ in range(MAX_KEYS):
        keys.create(ada.user)
    at = pages.open(links.ACCOUNT, token=ada.token)
    form = next(block for block in at.form if block.key == "api_key_create")
    form.text_input[0].input("one too many")
    form.button[0].click()
    pages.run(at)
    assert [e.value for e in at.error] == [
        f"This account already has {MAX_KEYS} active keys. Revoke one to make another."
    ]
    assert tokens_shown(at) == []
    assert len(keys.list(ada.user.id)) == MAX_KEYS
