"""Which model answers, and what the user reads when none can: `Assistant.stream_reply` against
the fake OpenRouter server, including servers whose catalogue lacks OpenRouter's defaults."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image

from assistant.catalogue import ModelInfo
from assistant.chat import NO_VISION_SENTENCE, Assistant, cheapest_vision_model
from assistant.context import ChatTurn
from assistant.errors import (
    AssistantError,
    ImageNotSupportedError,
    ModelNotFoundError,
    ProviderUnavailableError,
)
from assistant.events import Event, Failed, Finished, ModelUsed, TextDelta
from assistant.images import PreparedImage, prepare_image
from assistant.roles import Role, builtin_roles
from assistant.settings import Settings
from tests.fake_openrouter import (
    FALLBACK_MODEL,
    MODELS,
    TEXT_MODEL,
    VISION_MODEL,
    FakeOpenRouter,
    catalogue_entry,
    http_error,
)

HANGS = 30.0


@pytest.fixture
def role() -> Role:
    return builtin_roles()["gadget"]


@pytest.fixture
def photo() -> PreparedImage:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(buffer, "PNG")
    return prepare_image(buffer.getvalue())


def settings_for(fake: FakeOpenRouter, **changes: Any) -> Settings:
    base = Settings(
        api_key="sk-or-v1-test",
        base_url=fake.url,
        max_retries=0,
        fallback_models=(FALLBACK_MODEL,),
    )
    return replace(base, **changes)


def ready(assistant: Assistant) -> Assistant:
    assert assistant.catalogue.wait_ready(10.0)
    return assistant


def reply(
    assistant: Assistant, role: Role, text: str = "Hello", *images: PreparedImage, **options: Any
) -> list[Event]:
    events = list(assistant.stream_reply(role, [ChatTurn("user", text, images)], **options))
    assert isinstance(events[-1], (Finished, Failed))
    return events


def error_of(events: list[Event]) -> AssistantError:
    last = events[-1]
    assert isinstance(last, Failed), events
    return last.error


def models_asked(fake: FakeOpenRouter) -> list[str]:
    return [r.model for r in fake.chat_requests]


# -- the sentences ---------------------------------------------------------------------------


def test_provider_down_on_every_model_names_the_requested_model_and_the_outage(
    fake: FakeOpenRouter, role: Role
) -> None:
    fake.set_scenario(http_error(503))
    assistant = ready(Assistant(settings_for(fake)))
    error = error_of(reply(assistant, role))
    assert models_asked(fake) == [TEXT_MODEL, FALLBACK_MODEL]  # the fallback was tried too
    assert isinstance(error, ProviderUnavailableError)
    assert str(error).startswith(f"The provider of the model {TEXT_MODEL} is unavailable")


def test_an_unknown_model_is_said_to_be_missing_from_this_server(
    fake: FakeOpenRouter, role: Role
) -> None:
    fake.strict_models = True  # OpenRouter's 400 for an id it does not know
    assistant = ready(Assistant(settings_for(fake)))
    error = error_of(reply(assistant, role, model="acme/no-such-model"))
    assert isinstance(error, ModelNotFoundError)
    assert str(error) == (
        "The model acme/no-such-model is not available on this server. Pick another model."
    )
    assert models_asked(fake) == ["acme/no-such-model"]  # no fallback: the user must choose


def test_a_photo_goes_to_a_listed_vision_model_when_the_configured_one_is_missing(
    fake: FakeOpenRouter, role: Role, photo: PreparedImage
) -> None:
    fake.models = [
        m for m in MODELS if m["id"] != VISION_MODEL
    ] + [  # two vision models: the cheaper one is chosen
        catalogue_entry("acme/see-pricey", vision=True, price="0.00001"),
        catalogue_entry("acme/see-cheap", vision=True, price="0.000001"),
    ]
    fake.strict_models = True
    assistant = ready(Assistant(settings_for(fake)))
    events = reply(assistant, role, "What is this?", photo)
    assert events[-1] == Finished("stop")
    assert ModelUsed("acme/see-cheap", requested=TEXT_MODEL, reason="vision") in events
    assert models_asked(fake) == ["acme/see-cheap"]


def test_a_photo_on_a_server_without_vision_models_says_so_and_sends_nothing(
    fake: FakeOpenRouter, role: Role, photo: PreparedImage
) -> None:
    fake.models = [m for m in MODELS if "image" not in m["architecture"]["input_modalities"]]
    assistant = ready(Assistant(settings_for(fake)))
    error = error_of(reply(assistant, role, "What is this?", photo))
    assert isinstance(error, ImageNotSupportedError)
    assert str(error) == NO_VISION_SENTENCE
    assert str(error).startswith("No model on this server can read images")
    assert fake.chat_requests == []


def test_a_custom_server_gets_its_own_vision_model_and_no_invented_fallback(
    role: Role, photo: PreparedImage
) -> None:
    own = [catalogue_entry("llama3"), catalogue_entry("llava", vision=True)]
    with FakeOpenRouter(models=own, strict_models=True) as server:
        # OPENROUTER_MODEL set for this server; vision and fallback models left at the defaults
        assistant = ready(Assistant(settings_for(server, model="llama3")))
        assert assistant.settings.vision_model == VISION_MODEL
        events = reply(assistant, role, "What is this?", photo)
        assert ModelUsed("llava", requested="llama3", reason="vision") in events
        assert events[-1] == Finished("stop")

        server.set_model_scenario("llama3", http_error(503))
        error = error_of(reply(assistant, role))
        assert isinstance(error, ProviderUnavailableError)
        assert "llama3" in str(error)
    assert models_asked(server) == ["llava", "llama3"]  # the absent default fallback: never asked


def test_a_photo_to_an_unlisted_text_only_model_retries_on_the_listed_vision_model(
    fake: FakeOpenRouter, role: Role, photo: PreparedImage
) -> None:
    fake.models = [
        *[m for m in MODELS if m["id"] != VISION_MODEL],
        catalogue_entry("acme/see", vision=True),
    ]
    fake.set_model_scenario("acme/unlisted", http_error(404))  # "No endpoints ... image input"
    assistant = ready(Assistant(settings_for(fake)))
    events = reply(assistant, role, "What is this?", photo, model="acme/unlisted")
    assert ModelUsed("acme/see", requested="acme/unlisted", reason="vision") in events
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).startswith("Echo:")
    assert models_asked(fake) == ["acme/unlisted", "acme/see"]


# -- before the catalogue is loaded: today's behaviour ---------------------------------------


def test_without_a_loaded_catalogue_the_configured_models_are_tried_as_is(
    fake: FakeOpenRouter, role: Role
) -> None:
    fake.models_delay = HANGS
    fake.set_model_scenario(TEXT_MODEL, http_error(503))
    fake.models = [m for m in MODELS if m["id"] != FALLBACK_MODEL]
    assistant = Assistant(settings_for(fake))
    events = reply(assistant, role)
    assert not assistant.catalogue.loaded
    assert models_asked(fake) == [TEXT_MODEL, FALLBACK_MODEL]
    assert ModelUsed(FALLBACK_MODEL, requested=TEXT_MODEL, reason="fallback") in events


# -- the rule that picks a stand-in vision model ---------------------------------------------


def model(model_id: str, price: float | None, vision: bool = True) -> ModelInfo:
    return ModelInfo(
        id=model_id, name=model_id, prompt_price=price, completion_price=price, reads_images=vision
    )


def test_the_cheapest_priced_vision_model_is_chosen_and_ties_go_by_id() -> None:
    models = [
        model("z/text", 0.0, vision=False),
        model("b/see", 2e-6),
        model("a/see", 2e-6),
        model("c/see", 5e-6),
        model("openrouter/auto", -1.0),  # a router's "-1": price unknown
        model("d/see", None),
    ]
    chosen = cheapest_vision_model(models)
    assert chosen is not None and chosen.id == "a/see"


def test_free_variants_are_chosen_only_when_nothing_else_reads_images() -> None:
    free, paid = model("a/see:free", 0.0), model("b/see", 1e-6)
    assert cheapest_vision_model([free, paid]) == paid
    assert cheapest_vision_model([free, model("c/text", 0.0, vision=False)]) == free
    assert cheapest_vision_model([model("c/text", 0.0, vision=False)]) is None
