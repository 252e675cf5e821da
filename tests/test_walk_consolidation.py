"""The small consolidations of a review walk, each pinned by the behaviour it keeps."""

from __future__ import annotations

import pytest
from test_browser import UI_TIMEOUT_MS, browser, open_page, streamlit_server  # noqa: F401

from skindx.model.networks import block_counts, build_compact_vgg
from streamlit_app import ui


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_later_slide_keeps_its_page_title_out_of_sight(
    browser,  # noqa: F811
    tiny_model_dir,
    tmp_path,
) -> None:
    """A later slide's h1, there for screen readers, takes ui.VISUALLY_HIDDEN's 1-pixel box
    (the style the Diagnose page's chart list has), not a line of the slide."""
    assert "clip-path:inset(50%)" in ui.VISUALLY_HIDDEN
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/lessons?lesson=melanoma&mode=present&slide=2", errors)
        page.get_by_text("Slide 2 /").first.wait_for(timeout=UI_TIMEOUT_MS)
        title = page.locator("h1.slide-page-title")
        assert title.evaluate("e => getComputedStyle(e).clipPath") == "inset(50%)"
        box = title.bounding_box()
        assert box is not None and box["width"] <= 1 and box["height"] <= 1
        assert title.text_content() == "Melanoma"
    assert not errors, errors


def test_block_counts_is_the_one_check_of_convs_per_block() -> None:
    """The network builder and `skindx train`'s early refusal share it."""
    assert block_counts((8, 16, 32), 2) == [2, 2, 2]
    assert block_counts((8, 16), (1, 3)) == [1, 3]
    with pytest.raises(ValueError, match="one count per block"):
        block_counts((8, 16), (1, 1, 2))
    with pytest.raises(ValueError, match=r"one count per block \(2\)"):
        build_compact_vgg(input_size=32, widths=(8, 16), convs_per_block=(1, 1, 2))
