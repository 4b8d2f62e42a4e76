"""A real headless Chromium for the editor tests (Selenium, Debian's ``chromium`` and
``chromium-driver``), pointer helpers in picture pixels, and the test pictures (PyAV)."""

from __future__ import annotations

import base64
import io
import shutil
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

import privmask as pm

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
NO_BROWSER = "no chromium/chromedriver: apt-get install chromium chromium-driver"

W, H = 320, 240
CREATION_TIME = "2026-03-01T12:00:00.000000Z"


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    """One headless Chromium for the session (pages are reloaded per test)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(NO_BROWSER)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,900",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    # a test that fails half-way leaves unsaved edits; the page's "leave the page?" prompt must
    # not hold up the next test's navigation
    options.unhandled_prompt_behavior = "accept"
    d = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    d.set_page_load_timeout(30)
    yield d
    d.quit()


def open_page(d: Any, url: str) -> None:
    d.get(url)
    wait(d, "return document.body.dataset.ready === '1'")


def wait(d: Any, script: str, *args: Any, timeout: float = 15) -> Any:
    """Waits until ``script`` (JavaScript returning a value) is truthy; returns that value."""
    return WebDriverWait(d, timeout).until(lambda d: d.execute_script(script, *args))


def origin(d: Any) -> tuple[int, int]:
    """The picture's top-left corner in the viewport; whole pixels by the page's layout."""
    left, top = d.execute_script(
        "const r = document.getElementById('overlay').getBoundingClientRect();"
        "return [r.left, r.top];"
    )
    assert float(left).is_integer() and float(top).is_integer(), (left, top)
    return int(left), int(top)


def pointer(d: Any, steps: Sequence[tuple[Any, ...]]) -> None:
    """Plays pointer steps at picture pixels: ("move", x, y), ("down",), ("up",)."""
    x0, y0 = origin(d)
    builder = ActionBuilder(d, duration=15)
    p = builder.pointer_action
    for kind, *xy in steps:
        if kind == "move":
            p.move_to_location(x0 + int(xy[0]), y0 + int(xy[1]))
        elif kind == "down":
            p.pointer_down()
        else:
            p.pointer_up()
    builder.perform()


def click(d: Any, x: int, y: int) -> None:
    pointer(d, [("move", x, y), ("down",), ("up",)])


def drag(d: Any, start: tuple[int, int], end: tuple[int, int], steps: int = 4) -> None:
    path: list[tuple[Any, ...]] = [("move", *start), ("down",)]
    for i in range(1, steps + 1):
        path.append(
            (
                "move",
                start[0] + (end[0] - start[0]) * i // steps,
                start[1] + (end[1] - start[1]) * i // steps,
            )
        )
    path.append(("up",))
    pointer(d, path)


def alt_click(d: Any, x: int, y: int) -> None:
    x0, y0 = origin(d)
    chain = ActionChains(d, duration=15)
    chain.w3c_actions.pointer_action.move_to_location(x0 + x, y0 + y)
    chain.w3c_actions.key_action.pause()
    chain.key_down(Keys.ALT).click().key_up(Keys.ALT).perform()


def double_click(d: Any, x: int, y: int) -> None:
    x0, y0 = origin(d)
    chain = ActionChains(d, duration=15)
    chain.w3c_actions.pointer_action.move_to_location(x0 + x, y0 + y)
    chain.w3c_actions.key_action.pause()
    chain.double_click().perform()


def button(d: Any, element_id: str) -> None:
    d.find_element(By.ID, element_id).click()


def choose(d: Any, element_id: str, value: str) -> None:
    Select(d.find_element(By.ID, element_id)).select_by_value(value)


def type_into(d: Any, element_id: str, text: str) -> None:
    """Replaces an input's text and leaves it (the page acts on ``change``)."""
    el = d.find_element(By.ID, element_id)
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(text, Keys.TAB)


def set_color(d: Any, element_id: str, value: str) -> None:
    """A colour picker's choice (the native dialog cannot be driven; its result is this)."""
    d.execute_script(
        "const el = document.getElementById(arguments[0]); el.value = arguments[1];"
        "el.dispatchEvent(new Event('change', {bubbles: true}));",
        element_id,
        value,
    )


def polygons(d: Any) -> list[list[tuple[float, float]]]:
    """The mask outlines the page draws, in picture pixels, in list order."""
    found = d.execute_script(
        "return [...document.querySelectorAll('#layer-masks polygon')]"
        ".map(p => p.getAttribute('points'));"
    )
    return [[tuple(map(float, xy.split(","))) for xy in pts.split()] for pts in found]


def list_labels(d: Any) -> list[str]:
    return [
        str(s)
        for s in d.execute_script(
            "return [...document.querySelectorAll('#mask-list .label')].map(e => e.textContent);"
        )
    ]


def shown_hash(d: Any) -> str:
    return str(d.execute_script("return document.getElementById('hash').dataset.full"))


def save(d: Any) -> str:
    """Clicks Save and waits for the page to report it; returns the saved content hash."""
    d.execute_script("document.body.dataset.saved = ''")
    button(d, "file-save")
    return str(wait(d, "return document.body.dataset.saved"))


def show(d: Any, view: str, content_hash: str | None = None) -> np.ndarray:
    """Switches the view and returns the picture the page then shows, as RGB."""
    d.execute_script("document.getElementById('picture').dataset.view = ''")
    button(d, f"view-{view}")
    cond = "const i = document.getElementById('picture'); return i.dataset.view === arguments[0]"
    if content_hash is not None:
        cond += " && i.dataset.hash === arguments[1]"
    wait(d, cond, view, content_hash)
    return shown_picture(d)


def shown_picture(d: Any) -> np.ndarray:
    """The bytes behind the page's picture element (a PNG from the server), decoded to RGB."""
    encoded = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('picture').src).then(r => r.arrayBuffer()).then(b => {"
        "  const u = new Uint8Array(b); let s = '';"
        "  for (let i = 0; i < u.length; i += 0x8000)"
        "    s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));"
        "  done(btoa(s)); }).catch(e => done('failed: ' + e));"
    )
    return png_rgb(base64.b64decode(encoded))


def png_rgb(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# --- pictures ----------------------------------------------------------------------------------


def scene(i: int, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """A colourful RGB test picture (gradients, texture, a square that moves with ``i``)."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(3)
    img = np.stack([xs * 255 // w, ys * 255 // h, (xs + ys) * 127 // (w + h) + 64], -1)
    img = (img + rng.integers(-24, 24, img.shape)).clip(0, 255).astype(np.uint8)
    x = 20 + 17 * i
    img[100:140, x : x + 40] = (250, 240, 30)
    return img


def make_video(
    path: Path, *, frames: int = 12, gop: int | None = None, fmt: str | None = None
) -> None:
    """A real H.264 recording (B-frames, a creation_time) of :func:`scene` at 25 fps."""
    with av.open(str(path), "w", format=fmt) as out:
        if fmt is None:
            out.metadata["creation_time"] = CREATION_TIME
        options = {"bf": "2"} if gop is None else {"g": str(gop), "bf": "0"}
        stream = out.add_stream("libx264", rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(scene(i), format="rgb24").reformat(format="yuv420p")
            vf.pts, vf.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(vf))
        out.mux(stream.encode(None))


def make_png(path: Path) -> None:
    Image.fromarray(scene(2)).save(path)


def decoded(path: Path) -> list[tuple[Fraction, pm.Frame]]:
    """Every frame of a video (own copies) with its time after the first frame."""
    out = []
    with av.open(str(path)) as c:
        first = None
        for vf in c.decode(video=0):
            first = vf.pts if first is None else first
            out.append(((vf.pts - first) * Fraction(vf.time_base), pm.Frame.from_av(vf).copy()))
    return out


def frame_at(path: Path, t: Fraction) -> pm.Frame:
    """The frame on show ``t`` seconds in (the last one not after ``t``)."""
    return [f for ft, f in decoded(path) if ft <= t][-1]
