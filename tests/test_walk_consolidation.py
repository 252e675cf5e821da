"""The small consolidations of a review walk, each pinned by the behaviour it keeps."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_app_pages import (  # noqa: F401 (fixtures)
    PAGES,
    app_test,
    evaluated_model_dir,
    lesion_png,
    model,
    run,
    upload,
)
from test_browser import UI_TIMEOUT_MS, browser, open_page, streamlit_server  # noqa: F401

from skindx.cli import main
from skindx.datasets import labelled
from skindx.files import atomic_path, write_atomic
from skindx.model.networks import block_counts, build_compact_vgg
from skindx.reports.numbers import counted
from streamlit_app import ui

REPO = Path(__file__).resolve().parents[1]


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


def test_write_atomic_syncs_the_file_before_renaming_it(tmp_path, monkeypatch) -> None:
    """Without the fsync, a power cut just after the rename could leave an empty card.json."""
    path, events = tmp_path / "card.json", []
    fsync, replace = os.fsync, os.replace

    def synced(fd: int) -> None:
        events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name))
        fsync(fd)

    def replaced(source, target) -> None:
        events.append(("replace", Path(source).name))
        replace(source, target)

    monkeypatch.setattr(os, "fsync", synced)
    monkeypatch.setattr(os, "replace", replaced)
    write_atomic(path, "{}")
    assert events == [("fsync", ".card.json.partial"), ("replace", ".card.json.partial")]
    assert path.read_text() == "{}"


def test_a_replaced_file_keeps_its_permissions(tmp_path) -> None:
    """A card.json or summary made readable to a group only stays so when written again."""
    path = tmp_path / "summary.json"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, "new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_text() == "new"
    path.chmod(0o600)
    with atomic_path(path) as temporary:  # a writer that wants a path (pandas, Pillow)
        temporary.write_text("newer")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "newer"
    fresh = tmp_path / "fresh.json"
    write_atomic(fresh, "x")  # a new file: the umask's mode, as open() gives it
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_a_hard_link_placed_over_a_file_leaves_its_source_mode_alone(tmp_path) -> None:
    """restructure --link places an ISIC image as a link: the image's own mode is not the old
    target's business (and a read-only source would refuse the chmod)."""
    source, target = tmp_path / "ISIC_1.jpg", tmp_path / "mel" / "ISIC_1.jpg"
    source.write_bytes(b"new image")
    source.chmod(0o444)
    target.parent.mkdir()
    target.write_bytes(b"old")
    target.chmod(0o600)
    with atomic_path(target) as temporary:
        os.link(source, temporary)
    assert stat.S_IMODE(source.stat().st_mode) == 0o444 and target.read_bytes() == b"new image"


def test_the_cli_counts_images_with_thousands_separators(tmp_path, capsys, monkeypatch) -> None:
    """`10,015 images`, as the app writes counts, where the CLI printed `10015 images`."""
    csv = tmp_path / "HAM10000_metadata.csv"
    csv.write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization\n"
        + "".join(f"HAM_{i},ISIC_{i},nv,histo,50,male,back\n" for i in range(1234))
    )
    assert main(["stats", "summarize", str(csv), "--out", str(tmp_path / "s.json")]) == 0
    assert capsys.readouterr().out.startswith("HAM10000: 1,234 images\n")
    report = labelled.RestructureReport(
        placed={"mel": 1113, "nv": 6705}, existing=2197, missing=[f"ISIC_{i}" for i in range(1001)]
    )
    monkeypatch.setattr(labelled, "restructure", lambda *args, **kwargs: report)
    out = tmp_path / "by_class"
    assert (
        main(["data", "restructure", "--metadata", str(csv), "--images", ".", "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[:3] == [
        "mel       1,113",
        "nv        6,705",
        f"7,818 images in {out} (2,197 already there)",
    ]
    assert printed[3].startswith("1,001 missing: ISIC_0, ISIC_1")
    assert counted(1, "image") == "1 image" and counted(10015, "image") == "10,015 images"


def test_each_lesson_button_has_a_name_of_its_own(lessons) -> None:
    """A screen reader's list of buttons read "Open lesson" once per lesson."""
    at = AppTest.from_file(str(REPO / "pages" / "lessons.py"), default_timeout=60).run()
    names = [b.label for b in at.button if (b.key or "").startswith("lessons_open_")]
    assert len(names) == len(set(names)) == len(lessons)
    assert "Open: Spotting a worrying mole" in names and "Open: Melanoma" in names
    assert max(map(len, names)) <= 55  # two lines at most on a phone


def test_each_photo_of_a_batch_names_its_own_buttons(model) -> None:  # noqa: F811
    """A screen reader's list read "Explore this map" and "Report (PNG)" once per photo; a
    single photo's buttons keep their short names."""
    long = "IMG_20240501_123456_HDR_portrait_0001.png"
    at = upload(
        run(app_test(PAGES / "diagnose.py")), ("a*b.png", lesion_png(1)), (long, lesion_png(2))
    )
    explore = [at.button(key=f"dx_explore_{i}").label for i in (0, 1)]
    reports = [at.download_button(key=f"dx_report_{i}").label for i in (0, 1)]
    assert explore == [
        "Explore the map of a\\*b\\.png",
        "Explore the map of IMG\\_20240501\\_12…rtrait\\_0001\\.png",
    ]
    assert reports[0] == "Report of a\\*b\\.png (PNG)" and reports[1].endswith("0001\\.png (PNG)")
    upload(at, ("c.png", lesion_png(3)))
    assert at.button(key="dx_explore_0").label == "Explore this map"
    assert at.download_button(key="dx_report_0").label == "Report (PNG)"
