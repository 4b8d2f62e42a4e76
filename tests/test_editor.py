"""The mask editor, driven in a real headless Chromium: drawing, styling, grids, files, and a
preview that is exactly what ``privmask mask`` burns in.

Skipped (with the reason) only when Chromium or its driver is missing; CI installs both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import privmask as pm
from privmask.editor.files import MaskFile
from privmask.editor.server import EditorServer
from privmask.editor.session import Session
from privmask.editor.source import open_source, to_rgb
from privmask.video import mask_file
from tests.browser import (
    H,
    W,
    alt_click,
    button,
    choose,
    click,
    double_click,
    drag,
    driver,
    frame_at,
    list_labels,
    make_png,
    make_video,
    open_page,
    polygons,
    save,
    set_color,
    show,
    shown_hash,
    type_into,
    wait,
)

__all__ = ["driver"]  # the fixture, imported for pytest

Start = Callable[..., EditorServer]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("editor") / "cam.mp4"
    make_video(path)
    return path


@pytest.fixture
def editor() -> Iterator[Start]:
    servers: list[EditorServer] = []

    def start(src: Path, masks: Path | None = None, at: Any = None) -> EditorServer:
        session = Session(open_source(str(src)), None if masks is None else MaskFile(masks), at)
        server = EditorServer(session)
        server.start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()
        s.session.source.close()


def _cover_of(points_px: list[tuple[int, int]]) -> np.ndarray:
    poly = pm.Polygon([(x / W, y / H) for x, y in points_px])
    return pm.coverage(pm.MaskSet([pm.Mask(poly)]), W, H)


def test_a_polygon_drawn_with_the_mouse_covers_exactly_the_pixels_drawn(
    driver: Any, editor: Start, clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "masks.json"
    server = editor(clip, out)
    open_page(driver, server.url)
    button(driver, "tool-polygon")
    clicked = [(40, 30), (200, 52), (261, 181), (121, 209), (150, 120), (63, 117)]
    for x, y in clicked:
        click(driver, x, y)
    click(driver, *clicked[0])  # back on the first vertex: closes the polygon
    assert polygons(driver) == [[(float(x), float(y)) for x, y in clicked]]

    type_into(driver, "p-name", "neighbour's window")
    choose(driver, "p-style", "mosaic")
    choose(driver, "p-unit", "px")
    type_into(driver, "p-amount", "8")
    button(driver, "p-liftable")
    saved_hash = save(driver)

    saved = pm.MaskSet.from_json(out.read_text())
    assert saved_hash == saved.content_hash == shown_hash(driver)
    (mask,) = saved
    assert mask.name == "neighbour's window"
    assert mask.style == pm.Mosaic(block_px=8) and mask.liftable
    assert mask.shape == pm.Polygon([(x / W, y / H) for x, y in clicked])
    cover = pm.coverage(saved, W, H)
    np.testing.assert_array_equal(cover, _cover_of(clicked))
    # the cover is the drawn area, conservatively: every pixel the outline touches, no more
    assert 0.3 * W * H > cover.sum() > 0.2 * W * H
    assert cover[125, 155] and not cover[150, 100]  # either side of the notch at (150, 120)


def test_rectangles_vertices_undo_redo_reorder_and_delete(
    driver: Any, editor: Start, clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "masks.json"
    server = editor(clip, out)
    open_page(driver, server.url)
    button(driver, "tool-rect")
    drag(driver, (50, 40), (150, 120))
    rect = [(50.0, 40.0), (150.0, 40.0), (150.0, 120.0), (50.0, 120.0)]
    assert polygons(driver) == [rect]
    set_color(driver, "p-color", "#ff2000")

    button(driver, "tool-select")
    drag(driver, (150, 120), (170, 131))  # a vertex of the selected mask
    moved = [rect[0], rect[1], (170.0, 131.0), rect[3]]
    assert polygons(driver) == [moved]
    button(driver, "undo")
    assert polygons(driver) == [rect]
    button(driver, "redo")
    assert polygons(driver) == [moved]

    double_click(driver, 100, 40)  # on the top edge: a new vertex there
    assert polygons(driver) == [[rect[0], (100.0, 40.0), rect[1], moved[2], rect[3]]]
    drag(driver, (100, 40), (100, 22))
    bent = [rect[0], (100.0, 22.0), rect[1], moved[2], rect[3]]
    assert polygons(driver) == [bent]
    alt_click(driver, 100, 22)  # Alt+click deletes a vertex
    assert polygons(driver) == [moved]

    drag(driver, (100, 80), (110, 90))  # inside the mask: moves it whole
    shifted = [(x + 10, y + 10) for x, y in moved]
    assert polygons(driver) == [shifted]

    button(driver, "tool-rect")
    drag(driver, (200, 150), (300, 220))
    assert [label.split(":")[0] for label in list_labels(driver)] == ["1. mask 1", "2. mask 2"]
    driver.find_element(
        "css selector", "#mask-list li[data-index='0'] [data-action='down']"
    ).click()
    assert [label.split(":")[0] for label in list_labels(driver)] == ["1. mask 2", "2. mask 1"]
    driver.find_element("css selector", "#mask-list li[data-index='0'] .label").click()
    button(driver, "p-delete")
    assert len(polygons(driver)) == 1
    button(driver, "undo")
    assert len(polygons(driver)) == 2
    save(driver)

    saved = pm.MaskSet.from_json(out.read_text())
    assert [m.name for m in saved] == ["mask 2", "mask 1"]
    assert saved[1].shape == pm.Polygon([(x / W, y / H) for x, y in shifted])
    assert saved[1].style == pm.Solid("#ff2000")
    corners = [(200, 150), (300, 150), (300, 220), (200, 220)]
    assert saved[0].shape == pm.Polygon([(x / W, y / H) for x, y in corners])


def test_at_200_percent_a_drag_lands_on_the_same_picture_pixels(
    driver: Any, editor: Start, clip: Path
) -> None:
    server = editor(clip)
    open_page(driver, server.url)
    button(driver, "zoom-in")
    button(driver, "zoom-in")
    assert driver.find_element("id", "zoom-label").text == "200%"
    button(driver, "tool-rect")
    drag(driver, (2 * 50, 2 * 40), (2 * 150 - 1, 2 * 120 - 1))  # rounds to pixel corners
    assert polygons(driver) == [[(50.0, 40.0), (150.0, 40.0), (150.0, 120.0), (50.0, 120.0)]]
    button(driver, "zoom-1")
    assert (
        driver.execute_script(
            "return document.getElementById('picture').getBoundingClientRect().width"
        )
        == W
    )


def test_painted_grid_cells_are_saved_as_from_grid_masks(
    driver: Any, editor: Start, clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grid.json"
    server = editor(clip, out)
    open_page(driver, server.url)
    button(driver, "tool-grid")
    choose(driver, "grid-size", "16")
    cw, ch = W // 16, H // 16

    def centre(c: int, r: int) -> tuple[int, int]:
        return (c * cw + cw // 2, r * ch + ch // 2)

    drag(driver, centre(2, 3), centre(5, 3))  # one stroke paints every cell it crosses
    drag(driver, centre(3, 4), centre(3, 6))
    click(driver, *centre(10, 10))
    click(driver, *centre(5, 3))  # a stroke starting on a painted cell erases
    cells = {(2, 3), (3, 3), (4, 3), (3, 4), (3, 5), (3, 6), (10, 10)}
    assert wait(driver, "return document.getElementById('grid-count').textContent") == (
        f"{len(cells)} cells painted"
    )
    save(driver)  # painted cells become masks on saving

    saved = pm.MaskSet.from_json(out.read_text())
    want = pm.MaskSet.from_grid(sorted(cells), (16, 16))
    assert [m.shape for m in saved] == [m.shape for m in want]
    assert [m.name for m in saved] == ["grid 1", "grid 2"]
    np.testing.assert_array_equal(pm.coverage(saved, W, H), pm.coverage(want, W, H))
    cover = pm.coverage(saved, W, H)
    for c, r in cells:
        assert cover[r * ch : (r + 1) * ch, c * cw : (c + 1) * cw].all()
    assert cover.sum() == len(cells) * cw * ch


def test_reopening_the_saved_file_shows_the_same_masks(
    driver: Any, editor: Start, clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "masks.json"
    masks = pm.MaskSet(
        [
            pm.Mask(pm.Polygon.rect(0.1, 0.1, 0.3, 0.2), pm.Solid("#102030"), name="door"),
            pm.Mask(
                pm.Polygon([(0.5, 0.5), (0.9, 0.55), (0.7, 0.9)]),
                pm.Blur(sigma=0.02),
                liftable=True,
                name="path",
            ),
            pm.Mask(pm.Polygon.rect(0.6, 0.05, 0.3, 0.1), pm.Fill(outline="#ffffff"), name="sign"),
        ]
    )
    out.write_text(masks.to_json())
    server = editor(clip, out)
    open_page(driver, server.url)
    assert shown_hash(driver) == masks.content_hash
    assert [label.split(":")[0] for label in list_labels(driver)] == [
        "1. door",
        "2. path",
        "3. sign",
    ]
    want = [[(x * W, y * H) for x, y in m.shape.points] for m in masks]
    assert polygons(driver) == want

    button(driver, "tool-rect")
    drag(driver, (10, 200), (60, 230))
    saved_hash = save(driver)
    driver.refresh()  # a fresh page reads the file again
    wait(driver, "return document.body.dataset.ready === '1'")
    assert shown_hash(driver) == saved_hash == pm.MaskSet.from_json(out.read_text()).content_hash
    assert len(polygons(driver)) == 4
    assert polygons(driver)[:3] == want


def _styles() -> pm.MaskSet:
    return pm.MaskSet(
        [
            pm.Mask(pm.Polygon([(0.05, 0.1), (0.4, 0.05), (0.3, 0.5)]), pm.Solid("#00c040")),
            pm.Mask(pm.Polygon.rect(0.45, 0.1, 0.3, 0.35), pm.Mosaic(block=0.05), liftable=True),
            pm.Mask(pm.Polygon.rect(0.1, 0.55, 0.35, 0.4), pm.Blur(sigma_px=6), liftable=True),
            pm.Mask(pm.Polygon([(0.6, 0.6), (0.95, 0.7), (0.8, 0.97)]), pm.Fill()),
        ]
    )


def test_the_preview_is_what_privmask_mask_burns_in(
    driver: Any, editor: Start, clip: Path, tmp_path: Path
) -> None:
    masks = _styles()
    path = tmp_path / "masks.json"
    path.write_text(masks.to_json())
    at = Fraction(1, 5)
    server = editor(clip, path, at)
    open_page(driver, server.url)
    source = frame_at(clip, at)

    def engine(frame: pm.Frame, *, lifted: bool = False) -> np.ndarray:
        f = frame.copy()
        pm.apply(f, masks, lifted=lifted)
        return to_rgb(f)

    shown = show(driver, "preview", masks.content_hash)
    np.testing.assert_array_equal(shown, engine(source))
    assert not np.array_equal(shown, to_rgb(source))
    # ... and what the command burns into the file, losslessly encoded, is the same picture
    burned = tmp_path / "burned.mp4"
    mask_file(clip, burned, masks, codec="libx264", encoder_options={"qp": "0"})
    np.testing.assert_array_equal(shown, to_rgb(frame_at(burned, at)))

    lifted = show(driver, "lifted", masks.content_hash)
    np.testing.assert_array_equal(lifted, engine(source, lifted=True))
    assert not np.array_equal(lifted, shown)
    np.testing.assert_array_equal(show(driver, "original"), to_rgb(source))

    # seeking shows (and previews) the frame on show at the new time
    show(driver, "preview", masks.content_hash)
    driver.execute_script(
        "const s = document.getElementById('time'); s.value = '0.36';"
        "s.dispatchEvent(new Event('input', {bubbles: true}));"
    )
    wait(driver, "return document.getElementById('time-label').textContent.startsWith('0.360 s')")
    later = frame_at(clip, Fraction(36, 100))
    np.testing.assert_array_equal(show(driver, "preview", masks.content_hash), engine(later))


def test_an_image_is_edited_and_previewed_in_its_own_pixels(
    driver: Any, editor: Start, tmp_path: Path
) -> None:
    image = tmp_path / "snapshot.png"
    make_png(image)
    out = tmp_path / "masks.json"
    server = editor(image, out)
    open_page(driver, server.url)
    assert server.session.source.format == "rgb24"
    button(driver, "tool-rect")
    drag(driver, (30, 30), (90, 70))
    set_color(driver, "p-color", "#0000ff")
    save(driver)
    masks = pm.MaskSet.from_json(out.read_text())
    frame = open_source(str(image)).picture().frame
    pm.apply(frame, masks)
    got = show(driver, "preview", masks.content_hash)
    np.testing.assert_array_equal(got, to_rgb(frame))
    assert (got[30:70, 30:90] == (0, 0, 255)).all() and (got[29, 30:90] != (0, 0, 255)).any()

    # the preview follows each edit: a relative blur, then a fill with an outline
    choose(driver, "p-style", "blur")
    type_into(driver, "p-amount", "0.05")
    blurred = pm.MaskSet([pm.Mask(masks[0].shape, pm.Blur(sigma=0.05), name="mask 1")])
    wait(
        driver,
        "return document.getElementById('hash').dataset.full === arguments[0]",
        blurred.content_hash,
    )
    frame = open_source(str(image)).picture().frame
    pm.apply(frame, blurred)
    np.testing.assert_array_equal(show(driver, "preview", blurred.content_hash), to_rgb(frame))
    choose(driver, "p-style", "fill")
    button(driver, "p-outline-on")
    set_color(driver, "p-outline", "#00ff00")
    save(driver)
    assert pm.MaskSet.from_json(out.read_text())[0].style == pm.Fill(outline="#00ff00")


def test_a_timeline_opens_at_the_version_in_force_and_saving_appends_one(
    driver: Any, editor: Start, clip: Path, tmp_path: Path
) -> None:
    old = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.2, 0.2), name="old")])
    new = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.5, 0.5, 0.2, 0.2), name="new")])
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the clip's creation_time
    timeline = pm.MaskTimeline(
        [(datetime(2026, 3, 1, 11, 0, tzinfo=UTC), old), (start.replace(microsecond=200_000), new)]
    )
    path = tmp_path / "timeline.json"
    path.write_text(timeline.to_json())
    server = editor(clip, path, Fraction(1, 10))  # recorded 12:00:00.1: the old version
    open_page(driver, server.url)
    assert list_labels(driver)[0].startswith("1. old")
    note = driver.find_element("id", "file-note").text
    # the frame on show at 0.1 s is frame 2 (0.08 s): recorded at 12:00:00.08
    assert "version 1 of 2" in note and "in force at 2026-03-01T12:00:00.080000+00:00" in note

    button(driver, "tool-rect")
    drag(driver, (200, 20), (300, 60))
    type_into(driver, "since", "2026-03-01T12:00:00Z")  # not after the newest version
    button(driver, "file-save")
    wait(driver, "return document.getElementById('status').dataset.state === 'error'")
    assert "append-only" in driver.find_element("id", "status").text
    assert pm.MaskTimeline.from_json(path.read_text()) == timeline  # nothing written
    # the background check that follows an edit must not clear the failed save's message (it
    # once did when its answer came after the save's, and the error was gone before it was read)
    before = shown_hash(driver)
    type_into(driver, "p-name", "window")
    wait(driver, "return document.getElementById('hash').dataset.full !== arguments[0]", before)
    assert driver.find_element("id", "status").get_attribute("data-state") == "error"
    assert "append-only" in driver.find_element("id", "status").text

    type_into(driver, "since", "2026-03-02T08:30:00+01:00")
    saved_hash = save(driver)
    got = pm.MaskTimeline.from_json(path.read_text())
    assert len(got) == 3 and got[0] == timeline[0] and got[1] == timeline[1]
    assert got[2].since == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert got[2].content_hash == saved_hash
    assert [m.name for m in got[2].masks] == ["old", "window"]


def test_frigate_import_onvif_export_and_opening_a_local_file(
    driver: Any, editor: Start, clip: Path, tmp_path: Path
) -> None:
    server = editor(clip)
    open_page(driver, server.url)
    assert driver.find_element("id", "file-save").get_attribute("disabled") is not None
    button(driver, "import")
    choose(driver, "io-format", "frigate")
    text = driver.find_element("id", "io-text")
    text.send_keys("- 0,0,160,0,160,60,0,60\n0.5,0.5,1,0.5,1,1\n")  # pixels, then relative
    button(driver, "io-append")
    wait(driver, "return document.querySelectorAll('#layer-masks polygon').length === 2")
    assert polygons(driver) == [
        [(0.0, 0.0), (160.0, 0.0), (160.0, 60.0), (0.0, 60.0)],
        [(160.0, 120.0), (320.0, 120.0), (320.0, 240.0)],
    ]
    button(driver, "export")
    choose(driver, "io-format", "onvif")
    xml = wait(
        driver,
        "const v = document.getElementById('io-text').value; return v.startsWith('<?xml') && v",
    )
    back = pm.MaskSet.from_onvif(xml)
    assert [[(x * W, y * H) for x, y in m.shape.points] for m in back] == polygons(driver)
    button(driver, "io-close")

    # Open... reads a file from this computer through the browser (validated by the server)
    local = tmp_path / "from-disk.json"
    local.write_text(pm.MaskSet([pm.Mask(pm.Polygon.rect(0.5, 0, 0.5, 0.5), name="r")]).to_json())
    driver.execute_script("document.getElementById('file-input').hidden = false")
    driver.find_element("id", "file-input").send_keys(str(local))
    wait(driver, "return document.querySelectorAll('#layer-masks polygon').length === 1")
    assert polygons(driver) == [[(160.0, 0.0), (320.0, 0.0), (320.0, 120.0), (160.0, 120.0)]]
    assert "Download saves them" in driver.find_element("id", "status").text
    local.write_text('{"privmask": 1, "masks": [{"polygon": [[0, 0], [1, 1], [2, 2]]}]}')
    driver.find_element("id", "file-input").send_keys(str(local))
    wait(driver, "return document.getElementById('status').dataset.state === 'error'")
    assert "masks[0]" in driver.find_element("id", "status").text
    assert len(polygons(driver)) == 1
