"""Takes docs/editor.png: ``privmask edit`` on the demo's street scene, with masks drawn through
the page itself (mouse events in a real headless Chromium) and the engine's preview on show.

Run from the repository root: ``.venv/bin/python docs/make_editor_png.py`` (needs the ``editor``
and ``demo`` extras, Selenium, and Debian's ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from privmask.editor.files import MaskFile
from privmask.editor.server import EditorServer
from privmask.editor.session import Session
from privmask.editor.source import open_source
from privmask.tools import demo

OUT = Path(__file__).resolve().parent / "editor.png"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="privmask-editor-png-"))
    try:
        demo.main(["--out", str(work), "--frames", "12"])
        source = open_source(str(work / "sample.mp4"))
        server = EditorServer(Session(source, MaskFile(work / "masks-drawn.json"), Fraction(8, 25)))
        server.start()
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "chromium"
        for arg in ("--headless=new", "--no-sandbox", "--window-size=1500,900"):
            options.add_argument(arg)
        options.add_argument("--force-device-scale-factor=1")
        d = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            d.get(server.url)
            ready = "return document.body.dataset.ready"
            WebDriverWait(d, 30).until(lambda d: d.execute_script(ready))
            left, top, zoom = d.execute_script(
                "const r = document.getElementById('overlay').getBoundingClientRect();"
                "return [r.left, r.top, r.width / arguments[0]];",
                demo.WIDTH,
            )

            def at(x: float, y: float) -> tuple[int, int]:
                return round(left + x * demo.WIDTH * zoom), round(top + y * demo.HEIGHT * zoom)

            def play(points: list[tuple[float, float]], *, drag: bool = False) -> None:
                builder = ActionBuilder(d, duration=20)
                p = builder.pointer_action
                if drag:
                    p.move_to_location(*at(*points[0]))
                    p.pointer_down()
                    p.move_to_location(*at(*points[1]))
                    p.pointer_up()
                else:
                    for pt in [*points, points[0]]:
                        p.move_to_location(*at(*pt))
                        p.pointer_down()
                        p.pointer_up()
                builder.perform()

            def style(name: str, kind: str, liftable: bool = False) -> None:
                field = d.find_element(By.ID, "p-name")
                field.clear()
                field.send_keys(name, "\t")
                Select(d.find_element(By.ID, "p-style")).select_by_value(kind)
                if liftable:
                    d.find_element(By.ID, "p-liftable").click()

            wx, wy, ww, wh = demo.WINDOW
            d.find_element(By.ID, "tool-rect").click()
            play([(wx - 0.006, wy - 0.006), (wx + ww + 0.006, wy + wh + 0.006)], drag=True)
            style("neighbour window", "solid")
            d.find_element(By.ID, "tool-polygon").click()
            play(list(demo.ATTIC))
            style("attic window", "mosaic")
            play([*demo.FOOTPATH[:2], (0.999, 0.999), (0.40, 0.999)])
            style("footpath", "blur", liftable=True)
            d.find_element(By.ID, "tool-select").click()
            d.find_element(By.ID, "view-preview").click()
            WebDriverWait(d, 30).until(
                lambda d: d.execute_script(
                    "return document.getElementById('picture').dataset.view === 'preview'"
                )
            )
            d.execute_script("document.activeElement.blur()")
            d.save_screenshot(str(OUT))
        finally:
            d.quit()
            server.stop()
            source.close()
    finally:
        shutil.rmtree(work)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
