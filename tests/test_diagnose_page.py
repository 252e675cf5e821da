"""The Diagnose page under AppTest: what a person coming back to it sees of the values the
result used, and the wording its batch table, result headers and headings share."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from test_app_pages import (
    PAGES,
    app_test,
    batch_files,
    batch_table,
    context_model,  # noqa: F401 (a fixture)
    evaluated_model_dir,  # noqa: F401 (a fixture)
    lesion_png,
    model,  # noqa: F401 (a fixture)
    run,
    texts,
    upload,
)

from skindx.diagnosis.predict import SAME_SPOT

CONTEXT = "Add age, sex and body site (optional)"
SIGNS = "Warning signs you have noticed (optional)"

pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")


def expanded(at: AppTest, label: str) -> bool:
    """Whether the expander with this label is drawn open."""
    (box,) = [e for e in at.expander if e.label == label]
    return box.proto.expanded


def leave_and_come_back(at: AppTest) -> AppTest:
    """To the explorer and back: the way AppTest drops the page's widget state, as a browser
    does on leaving the page."""
    run(at.button(key="dx_explore_0").click())
    assert "dx_upload" not in at.session_state
    return run(at.switch_page("../pages/diagnose.py"))


def test_coming_back_opens_the_inputs_the_result_used(context_model) -> None:  # noqa: F811
    """Coming back, the result said age, sex, site and warning signs were taken into account
    while the expanders holding them were closed."""
    at = run(app_test())
    assert not expanded(at, CONTEXT) and not expanded(at, SIGNS)  # nothing given yet
    run(at.number_input(key="dx_age").set_value(62))
    run(at.checkbox(key="dx_sign_size").check())
    upload(at, ("a.png", lesion_png(1)))
    assert expanded(at, CONTEXT) and expanded(at, SIGNS)

    at = leave_and_come_back(at)
    assert at.number_input(key="dx_age").value == 62 and at.checkbox(key="dx_sign_size").value
    assert "Age, sex and body site were taken into account." in texts(at)
    assert "The warning signs you ticked were taken into account." in texts(at)
    assert expanded(at, CONTEXT) and expanded(at, SIGNS)

    # Unticking the last sign leaves its expander open under the person's hand.
    run(at.checkbox(key="dx_sign_size").uncheck())
    assert expanded(at, SIGNS)
    at = leave_and_come_back(at)  # and a later visit, with none ticked, starts it closed
    assert not expanded(at, SIGNS) and expanded(at, CONTEXT)


def test_an_age_of_zero_is_a_value(context_model) -> None:  # noqa: F811
    at = run(app_test(PAGES / "diagnose.py"))
    run(at.number_input(key="dx_age").set_value(0))
    assert expanded(at, CONTEXT)


def test_the_combined_result_has_one_name(model) -> None:  # noqa: F811
    """The table said "all photos together" under the heading "All photos together"."""
    at = upload(
        run(app_test(PAGES / "diagnose.py")), ("a.png", lesion_png(1)), ("b.png", lesion_png(2))
    )
    run(at.toggle(key="dx_same_spot").set_value(True))
    assert SAME_SPOT == "All photos together"
    assert batch_files(at)[-1] == SAME_SPOT
    assert any(m.value.startswith(f"### {SAME_SPOT}: ") for m in at.markdown)


def test_result_headers_word_the_answer_as_the_table_does(model) -> None:  # noqa: F811
    """A result's header said "Melanocytic nevus 97%" where the table said "Melanocytic nevus,
    97%"."""
    at = upload(
        run(app_test(PAGES / "diagnose.py")), ("a.png", lesion_png(1)), ("b.png", lesion_png(2))
    )
    table = batch_table(at)
    headers = [e.label for e in at.expander if e.label.startswith(("a\\.png", "b\\.png"))]
    assert [header.split(" · ")[1] for header in headers] == list(table["Most likely"])
    headings = [m.value for m in at.markdown if m.value.startswith("### Most likely: ")]
    assert [h.removeprefix("### Most likely: ") for h in headings] == list(table["Most likely"])
