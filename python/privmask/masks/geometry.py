"""Polygons in normalised image coordinates."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

from privmask import _native
from privmask.errors import InvalidGeometryError

__all__ = ["MAX_VERTICES", "Point", "Polygon", "coordinate"]

Point = tuple[float, float]

MAX_VERTICES = 10_000
"""Most vertices a polygon may have: the core's limit (``privmask_core::geometry::MAX_VERTICES``),
which bounds the time to rasterise it."""


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def coordinate(value: object, what: str) -> float:
    """``value`` as a float coordinate, or :class:`InvalidGeometryError`.

    Only real numbers are coordinates: a string (``"0.5"``) or a bool is refused, as the
    published schema refuses them, and so is a number beyond a double's range (``10**400``)
    instead of an ``OverflowError``. ``-0.0`` becomes ``0.0``, so equal shapes serialise (and
    hash) the same.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise InvalidGeometryError(f"{what} must be a number, got {value!r}")
    try:
        v = float(value)
    except (OverflowError, ValueError, TypeError) as e:
        raise InvalidGeometryError(f"{what} is beyond the range of a double: {value!r}") from e
    if not math.isfinite(v):
        raise InvalidGeometryError(f"{what} must be finite, got {v}")
    return v + 0.0  # -0.0 -> 0.0


@dataclass(frozen=True, slots=True)
class Polygon:
    """A polygon locked to the image, in normalised coordinates.

    ``(0, 0)`` is the top-left corner of the frame and ``(1, 1)`` its bottom-right corner, so the
    same polygon fits every resolution of a camera. Vertices outside ``[0, 1]`` are allowed (the
    part outside the frame covers nothing, however far out a vertex lies); the fill rule is
    nonzero. Every pixel whose square meets the polygon's interior with positive area, for the
    vertices exactly as given (the doubles times the frame size, unrounded), is masked whole; the
    core's internal rounding only adds pixels, within 1/256 px of the boundary.

    Raises :class:`InvalidGeometryError` for more than :data:`MAX_VERTICES` vertices,
    coordinates that are not finite real numbers (strings, bools, NaN, infinities, integers
    beyond a double), fewer than three distinct vertices, or vertices that all lie on one line.
    """

    points: tuple[Point, ...]

    def __init__(self, points: Iterable[Iterable[float]]) -> None:
        pts: list[Point] = []
        try:
            items = list(points)
        except TypeError as e:
            raise InvalidGeometryError(f"points must be a sequence of (x, y) pairs: {e}") from e
        if len(items) > MAX_VERTICES:
            raise InvalidGeometryError(
                f"a polygon has at most {MAX_VERTICES} vertices, got {len(items)}"
            )
        for i, p in enumerate(items):
            if isinstance(p, (str, bytes)):
                raise InvalidGeometryError(f"vertex {i} must be a pair of numbers, got {p!r}")
            try:
                x, y = p
            except (TypeError, ValueError) as e:
                raise InvalidGeometryError(
                    f"vertex {i} must be a pair of numbers (x, y), got {p!r}"
                ) from e
            if not (_is_number(x) and _is_number(y)):
                raise InvalidGeometryError(
                    f"vertex {i} must be a pair of numbers (x, y), got {p!r}"
                )
            pts.append((coordinate(x, f"vertex {i} x"), coordinate(y, f"vertex {i} y")))
        _native.validate_polygon(pts)
        object.__setattr__(self, "points", tuple(pts))

    @classmethod
    def rect(cls, x: float, y: float, w: float, h: float) -> Polygon:
        """The axis-aligned rectangle with top-left corner ``(x, y)``, width ``w`` and height
        ``h`` (all normalised)."""
        x, y = coordinate(x, "rect x"), coordinate(y, "rect y")
        w, h = coordinate(w, "rect w"), coordinate(h, "rect h")
        if w <= 0 or h <= 0:
            raise InvalidGeometryError(f"rect width and height must be positive, got {w} x {h}")
        return cls([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])

    def __repr__(self) -> str:
        return f"Polygon({list(self.points)!r})"
