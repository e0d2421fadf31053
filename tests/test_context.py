from dataclasses import dataclass

from assistant.context import IMAGE_OMITTED, ChatTurn, build_messages


@dataclass(frozen=True)
class Image:
    data_url: str = "data:image/png;base64,AAAA"


def conversation(turns: int, size: int = 300) -> list[ChatTurn]:
    history = []
    for i in range(turns):
        history.append(ChatTurn("user", f"question {i} " + "q" * size))
        history.append(ChatTurn("assistant", f"answer {i} " + "a" * size))
    return history


def test_short_conversations_are_sent_whole_after_the_system_prompt() -> None:
    history = [*conversation(2), ChatTurn("user", "and now?")]
    messages = build_messages("be kind", history, context_length=100_000)
    assert messages[0] == {"role": "system", "content": "be kind"}
    assert [m["content"] for m in messages[1:]] == [t.text for t in history]


def test_trimming_drops_the_oldest_turns_first() -> None:
    history = [*conversation(50), ChatTurn("user", "newest")]
    messages = build_messages("sys", history, context_length=2000, reply_tokens=500)
    assert messages[0]["role"] == "system"
    assert messages[-1]["content"] == "newest"
    assert len(messages) < len(history) + 1
    kept = [m["content"] for m in messages[1:-1]]
    assert kept == [t.text for t in history[-1 - len(kept) : -1]]
    assert messages[1]["role"] == "user"  # never starts with an orphaned reply


def test_system_prompt_and_newest_message_survive_a_tiny_window() -> None:
    history = [*conversation(5), ChatTurn("user", "x" * 10_000)]
    messages = build_messages("system prompt", history, context_length=100, reply_tokens=50)
    assert messages == [
        {"role": "system", "content": "system prompt"},
        {"role": "user", "content": "x" * 10_000},
    ]


def test_images_become_content_parts_with_text_first() -> None:
    history = [ChatTurn("user", "what is this?", (Image(),))]
    (_, user) = build_messages("sys", history, context_length=10_000)
    assert user["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]


def test_text_only_models_get_a_note_instead_of_the_image() -> None:
    history = [
        ChatTurn("user", "look", (Image(),)),
        ChatTurn("assistant", "ok"),
        ChatTurn("user", "?"),
    ]
    messages = build_messages("sys", history, context_length=10_000, with_images=False)
    assert messages[1]["content"] == f"look\n\n{IMAGE_OMITTED}"
