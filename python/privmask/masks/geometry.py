"""Polygons in normalised image coordinates."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from privmask import _native
from privmask.errors import InvalidGeometryError

__all__ = ["Point", "Polygon"]

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Polygon:
    """A polygon locked to the image, in normalised coordinates.

    ``(0, 0)`` is the top-left corner of the frame and ``(1, 1)`` its bottom-right corner, so the
    same polygon fits every resolution of a camera. Vertices outside ``[0, 1]`` are allowed (the
    part outside the frame covers nothing); the fill rule is nonzero. A pixel is covered when its
    square meets the polygon's interior with positive area: partial pixels are masked whole.

    Raises :class:`InvalidGeometryError` for NaN or infinite coordinates, fewer than three distinct
    vertices, or vertices that all lie on one line.
    """

    points: tuple[Point, ...]

    def __init__(self, points: Iterable[Iterable[float]]) -> None:
        pts: list[Point] = []
        for i, p in enumerate(points):
            try:
                x, y = (float(v) for v in p)
            except (TypeError, ValueError) as e:
                raise InvalidGeometryError(
                    f"vertex {i} must be a pair of numbers (x, y), got {p!r}"
                ) from e
            pts.append((x, y))
        _native.validate_polygon(pts)
        object.__setattr__(self, "points", tuple(pts))

    @classmethod
    def rect(cls, x: float, y: float, w: float, h: float) -> Polygon:
        """The axis-aligned rectangle with top-left corner ``(x, y)``, width ``w`` and height
        ``h`` (all normalised)."""
        for name, v in (("x", x), ("y", y), ("w", w), ("h", h)):
            if not math.isfinite(v):
                raise InvalidGeometryError(f"rect {name} must be finite, got {v}")
        if w <= 0 or h <= 0:
            raise InvalidGeometryError(f"rect width and height must be positive, got {w} x {h}")
        return cls([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])

    def __repr__(self) -> str:
        return f"Polygon({list(self.points)!r})"
