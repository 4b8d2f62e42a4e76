"""Motion masks shaped like what moved, not like its bounding box.

:class:`ShapedMotionDetector` keeps the same kind of background model as the Rust
:class:`~privmask.dynamic.detect.MotionDetector` (a running average of the luma plane on a grid of
``scale`` x ``scale`` cells, a threshold, an opening against specks and a dilation that leaves a
margin round each body), but reports each moving component as its outline: for every grid row
the component spans, the span from its leftmost to its rightmost cell. A walking person is a
narrow shape whose bounding box is mostly background; two people side by side are two shapes.

Standing still does not make a person background. Where the picture is foreground (after the
dilation) the background learns ``hold_frames`` times more slowly than elsewhere (``None``: not at
all), so someone who stops stays masked, while a lighting change that covers everything still
fades out in the end.

Held foreground has a cost: people standing in the first frames are learned into the background,
and when they leave, the ground they uncover differs from it, is foreground, and would be learned
slowly too, a "ghost" masked long after they left. With ``hold="tracked"`` (opt-in), when
another detector runs alongside (the person or face detector, through
:class:`~privmask.dynamic.track.Tracker`), the tracker tells this detector where that detector's
tracks are (:meth:`ShapedMotionDetector.hold_areas`) and only foreground inside them is held: a
standing person the other detector sees stays masked, and ghosts fade. The price: a person the
other detector misses who stands still fades too (in about ``ghost_frames`` frames), which is
why the default, ``hold="all"``, holds all foreground. With ``"tracked"``, foreground outside
those boxes that is still (its cells changed by less than a third of ``threshold`` since the
previous frame: uncovered ground, not someone walking) is learned in about ``ghost_frames``
frames, other foreground at the ordinary rate (``merge_frames``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from privmask._extras import install_hint
from privmask.dynamic._frames import luma
from privmask.engine.frame import Frame
from privmask.engine.regions import Box, Region
from privmask.errors import MaskConfigError
from privmask.masks.grid import cells_polygon
from privmask.masks.maskset import MaskSet

__all__ = ["ShapedMotionDetector", "component_outline"]


def component_outline(
    rows: npt.NDArray[np.intp], first: npt.NDArray[np.intp], last: npt.NDArray[np.intp]
) -> list[tuple[int, int]]:
    """The outline, in grid cells, of a component given per row (``rows`` consecutive) by its
    first and last cell: down the right ends, back up the left ends. Rows with the same span are
    merged, so a rectangle has four vertices. (The detector's regions are traced from the same
    cells by :func:`privmask.masks.grid.cells_polygon`, which also rounds the vertices into
    them and splits the outline where two rows touch only at a corner.)"""
    right: list[tuple[int, int]] = []
    left: list[tuple[int, int]] = []
    for r, a, b in zip(rows.tolist(), first.tolist(), last.tolist(), strict=True):
        if right and right[-1][0] == b + 1:
            right[-1] = (b + 1, r + 1)
        else:
            right += [(b + 1, r), (b + 1, r + 1)]
        if left and left[-1][0] == a:
            left[-1] = (a, r + 1)
        else:
            left += [(a, r), (a, r + 1)]
    return right + left[::-1]


class ShapedMotionDetector:
    """Regions shaped like what differs from a learned background (numpy and scipy).

    ``merge_frames``: frames after which something that changed becomes background (outside
    foreground). ``hold_frames``: how many times slower the background learns where it is
    foreground (``None``: never), so standing people stay masked. ``threshold``: luma difference
    (0-255) that counts as motion. ``scale``: cell edge in pixels. ``open_radius`` and
    ``dilate_radius``: cells of the opening (against specks) and of the dilation (the margin
    round a body). ``min_cells``: smaller components are dropped. ``warmup_frames``: frames
    learned before the first detection; they come back as one whole-frame region.
    ``exclusion``: a mask set whose permanent masks' area reports no motion. ``ghost_frames``:
    frames after which still foreground outside the hold areas becomes background, when the
    tracker gives hold areas (:meth:`hold_areas`; see the module docstring). ``hold``:
    ``"all"`` (default: every foreground cell is held, whatever :meth:`hold_areas` says) or
    ``"tracked"`` (only foreground in the hold areas the tracker gives, when it gives them).

    Regions are polygons in normalised coordinates labelled ``"motion"``, one per component,
    covering every foreground cell of it. The model is made for the first frame's size; a frame
    of another size starts a new one. Bad settings raise :class:`MaskConfigError`; scipy missing
    raises ``ImportError`` naming privmask-video's ``detect`` extra.
    """

    def __init__(
        self,
        *,
        merge_frames: float = 50.0,
        hold_frames: float | None = 20.0,
        threshold: float = 18.0,
        scale: int = 4,
        open_radius: int = 1,
        dilate_radius: int = 2,
        min_cells: int = 4,
        warmup_frames: int = 5,
        exclusion: MaskSet | None = None,
        ghost_frames: float = 10.0,
        hold: str = "all",
    ) -> None:
        try:
            import scipy.ndimage  # noqa: F401
        except ImportError as e:
            raise ImportError(f"shaped motion masks need scipy: {install_hint('detect')}") from e
        if not merge_frames >= 1:
            raise MaskConfigError(f"merge_frames must be at least 1, got {merge_frames!r}")
        if hold_frames is not None and not hold_frames >= 1:
            raise MaskConfigError(f"hold_frames must be at least 1 or None, got {hold_frames!r}")
        if not 0 <= threshold < 255:
            raise MaskConfigError(f"the motion threshold must be 0-255, got {threshold!r}")
        if not 1 <= scale <= 64:
            raise MaskConfigError(f"motion scale must be 1-64 pixels, got {scale!r}")
        if not (0 <= open_radius <= 16 and 0 <= dilate_radius <= 16):
            raise MaskConfigError("morphology radii must be 0-16 cells")
        if not ghost_frames >= 1:
            raise MaskConfigError(f"ghost_frames must be at least 1, got {ghost_frames!r}")
        if hold not in ("all", "tracked"):
            raise MaskConfigError(f"hold must be 'all' or 'tracked', got {hold!r}")
        if min_cells < 1 or warmup_frames < 0:
            raise MaskConfigError("min_cells must be at least 1 and warmup_frames at least 0")
        self.merge_frames = float(merge_frames)
        self.hold_frames = None if hold_frames is None else float(hold_frames)
        self.threshold = float(threshold)
        self.scale = int(scale)
        self.open_radius = int(open_radius)
        self.dilate_radius = int(dilate_radius)
        self.min_cells = int(min_cells)
        self.warmup_frames = int(warmup_frames)
        self.ghost_frames = float(ghost_frames)
        self.hold = hold
        self._exclusion = exclusion
        self._size: tuple[int, int] | None = None
        self._background: npt.NDArray[np.float32] | None = None
        self._excluded: npt.NDArray[np.bool_] | None = None
        self._frames = 0
        self._hold: list[Box] | None = None
        self._previous: npt.NDArray[np.float32] | None = None

    def hold_areas(self, boxes: Sequence[Box] | None) -> None:
        """Where the next :meth:`detect` holds the background: ``boxes`` ``(x0, y0, x1, y1)`` in
        normalised coordinates (0-1), e.g. the boxes of the people another detector tracks. On
        that call only foreground cells touching one of them learn ``hold_frames`` times more
        slowly; other foreground learns at the ordinary rate, or in about ``ghost_frames``
        frames where it is still (what was background at the start and is uncovered later: a
        ghost). ``None``
        (and every detection not preceded by a call): all foreground is held. Boxes with
        ``x1 <= x0`` or ``y1 <= y0`` hold nothing; the call does not change what is detected on
        that frame, only what is learned from it. Ignored with ``hold="all"``."""
        if self.hold == "all":  # every foreground cell is held: the boxes change nothing
            boxes = None
        self._hold = None if boxes is None else [(b[0], b[1], b[2], b[3]) for b in boxes]

    def reset(self) -> None:
        """Forgets the background (after a cut or a camera move): learning starts again."""
        self._frames = 0
        self._background = None
        self._previous = None

    def _cells(self, plane: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Mean luma of each cell, ``(ceil(h / scale), ceil(w / scale))``; edge cells are
        averaged over the pixels they hold."""
        s = self.scale
        h, w = plane.shape
        gh, gw = -(-h // s), -(-w // s)
        padded = np.pad(plane, ((0, gh * s - h), (0, gw * s - w)), mode="edge")
        out: npt.NDArray[np.float32] = padded.reshape(gh, s, gw, s).mean(
            axis=(1, 3), dtype=np.float32
        )
        return out

    def _start(self, frame: Frame) -> None:
        self._size = (frame.width, frame.height)
        self._background = None
        self._previous = None
        self._frames = 0
        self._excluded = None
        if self._exclusion is not None:
            ex = self._exclusion.exclusion_map(frame.width, frame.height).view(np.uint8)
            s = self.scale
            gh, gw = -(-frame.height // s), -(-frame.width // s)
            padded = np.pad(ex, ((0, gh * s - frame.height), (0, gw * s - frame.width)), "edge")
            # A cell is excluded only when every pixel in it is: motion next to a mask is kept.
            self._excluded = padded.reshape(gh, s, gw, s).min(axis=(1, 3)) > 0

    def _hold_cells(
        self, boxes: list[Box], shape: tuple[int, ...], frame: Frame
    ) -> npt.NDArray[np.bool_]:
        """The cells touching any of ``boxes``, ``shape`` (grid rows, columns) bool."""
        out = np.zeros(shape, dtype=bool)
        s = self.scale
        for x0, y0, x1, y1 in boxes:
            c0, r0 = int(x0 * frame.width) // s, int(y0 * frame.height) // s
            c1 = -(-int(np.ceil(x1 * frame.width)) // s)
            r1 = -(-int(np.ceil(y1 * frame.height)) // s)
            out[max(0, r0) : max(0, r1), max(0, c0) : max(0, c1)] = True
        return out

    def detect(self, frame: Frame) -> list[Region]:
        """The moving shapes of ``frame`` (see the class docstring)."""
        from scipy import ndimage

        if self._size != (frame.width, frame.height):
            self._start(frame)
        hold, self._hold = self._hold, None
        cur = self._cells(luma(frame))
        previous, self._previous = self._previous, cur
        if self._background is None:
            self._background = cur.copy()
        bg = self._background
        self._frames += 1
        if self._frames <= self.warmup_frames:
            bg += (cur - bg) / self._frames
            return [Region.whole_frame("learning")]
        fg = np.abs(cur - bg) > self.threshold
        if self._excluded is not None:
            fg &= ~self._excluded
        if self.open_radius:
            st = np.ones((2 * self.open_radius + 1,) * 2, dtype=bool)
            fg = ndimage.binary_erosion(fg, st, border_value=1)
            fg = ndimage.binary_dilation(fg, st)
        if self.dilate_radius:
            fg = ndimage.binary_dilation(fg, np.ones((2 * self.dilate_radius + 1,) * 2, bool))
        held = fg if hold is None else fg & self._hold_cells(hold, fg.shape, frame)
        rate = np.full(bg.shape, 1.0 / self.merge_frames, dtype=np.float32)
        if hold is not None and previous is not None:
            still = np.abs(cur - previous) < self.threshold / 3
            rate[fg & ~held & still] = 1.0 / self.ghost_frames
        rate[held] = (
            0.0 if self.hold_frames is None else 1.0 / (self.merge_frames * self.hold_frames)
        )
        bg += rate * (cur - bg)
        labels, _count = ndimage.label(fg, structure=np.ones((3, 3), dtype=bool))
        out = []
        _gh, _gw = fg.shape
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            if sl is None:
                continue
            comp = labels[sl] == k
            if int(comp.sum()) < self.min_cells:
                continue
            first = comp.argmax(axis=1) + sl[1].start
            last = comp.shape[1] - 1 - comp[:, ::-1].argmax(axis=1) + sl[1].start
            # The row spans, as cells: outlined with vertices rounded into them, so the cover
            # is exactly their pixels (cells are whole pixels, the last ones cut at the edge).
            at = np.arange(sl[1].start, sl[1].stop)
            spans = (at >= first[:, None]) & (at <= last[:, None])
            s = (self.scale, self.scale)
            shape = cells_polygon(spans, s, (frame.width, frame.height), (sl[0].start, sl[1].start))
            out.append(Region(shape, label="motion"))
        return out

    def __repr__(self) -> str:
        params: dict[str, Any] = {
            "scale": self.scale,
            "threshold": self.threshold,
            "merge_frames": self.merge_frames,
            "hold_frames": self.hold_frames,
            "hold": self.hold,
        }
        return "ShapedMotionDetector(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"
