"""Mask styles: how a covered area is hidden, and how irreversible that is."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from privmask import _native
from privmask.errors import MaskConfigError

__all__ = [
    "MAX_LENGTH_PX",
    "MIN_BLOCK_PX",
    "MIN_SIGMA_PX",
    "STYLES",
    "Blur",
    "Fill",
    "Grade",
    "Mosaic",
    "Solid",
    "Style",
    "style_from_dict",
]

MAX_LENGTH_PX: Final = 16384
"""The largest mosaic block or blur sigma in pixels: the core's largest frame side
(``MAX_DIMENSION`` in ``rust/core/src/format.rs``); the published schema says the same."""
MIN_BLOCK_PX: Final = 2
"""The smallest mosaic block in pixels (a 1-pixel block would keep every pixel)."""
MIN_SIGMA_PX: Final = 1
"""The smallest blur sigma in pixels."""

_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")


class Grade(enum.Enum):
    """How much of the original a style lets through.

    ``ANONYMISING``: the output does not depend on what was there (``Solid``, ``Fill``).
    ``BOUNDED``: one value per block or cell survives (``Mosaic``, ``Blur``). Bounded is
    pseudonymisation, not anonymisation: masked faces can still be linked back to their originals.
    """

    ANONYMISING = "anonymising"
    BOUNDED = "bounded"


def _triple(value: object, what: str) -> tuple[int, int, int]:
    if isinstance(value, str):
        m = _HEX.match(value)
        if not m:
            raise MaskConfigError(f"{what} must look like '#rrggbb', got {value!r}")
        h = m.group(1)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if isinstance(value, (tuple, list)) and len(value) == 3:
        out = []
        for c in value:
            if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 255:
                raise MaskConfigError(f"{what} components must be integers 0-255, got {value!r}")
            out.append(c)
        return (out[0], out[1], out[2])
    raise MaskConfigError(f"{what} must be '#rrggbb' or three integers 0-255, got {value!r}")


@dataclass(frozen=True, slots=True)
class Solid:
    """Every covered sample set to one colour. Anonymising.

    ``color`` is RGB (``"#rrggbb"`` or a 0-255 triple), converted with the frame's matrix and
    range; ``yuv`` gives raw sample values instead (exactly one of the two).
    """

    color: tuple[int, int, int] | None
    yuv: tuple[int, int, int] | None

    def __init__(
        self,
        color: str | tuple[int, int, int] | None = None,
        *,
        yuv: tuple[int, int, int] | None = None,
    ) -> None:
        if color is not None and yuv is not None:
            raise MaskConfigError("give either color (RGB) or yuv, not both")
        rgb = _triple(color, "color") if color is not None else None
        raw = _triple(yuv, "yuv") if yuv is not None else None
        if rgb is None and raw is None:
            rgb = (0, 0, 0)
        object.__setattr__(self, "color", rgb)
        object.__setattr__(self, "yuv", raw)

    @property
    def grade(self) -> Grade:
        return Grade.ANONYMISING

    def samples(
        self, format: str, *, matrix: str = "bt601", full_range: bool = False
    ) -> tuple[int, int, int]:
        """The sample values this colour writes, by component (Y, U, V; or R, G, B for packed
        RGB), on frames of ``format`` coded with ``matrix`` and range."""
        kind, values = ("yuv", self.yuv) if self.yuv is not None else ("rgb", self.color)
        assert values is not None
        return _native.colour_samples(kind, values, format, matrix, full_range)

    TYPE: ClassVar[str] = "solid"
    ONVIF_TYPE: ClassVar[str] = "Color"

    def to_dict(self) -> dict[str, Any]:
        """The style's JSON form (the ``style`` object of a mask)."""
        if self.yuv is not None:
            return {"type": "solid", "yuv": list(self.yuv)}
        assert self.color is not None
        return {"type": "solid", "color": _hex(self.color)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Solid:
        """The style of a validated JSON ``style`` object."""
        return cls(yuv=d["yuv"]) if d.get("yuv") is not None else cls(d.get("color"))

    def native_spec(self) -> tuple[str, list[float]]:
        """The core's name and parameters for this style."""
        if self.yuv is not None:
            return ("solid_yuv", [float(c) for c in self.yuv])
        assert self.color is not None
        return ("solid_rgb", [float(c) for c in self.color])

    def __repr__(self) -> str:
        if self.yuv is not None:
            return f"Solid(yuv={self.yuv!r})"
        assert self.color is not None
        return "Solid(color='#{:02x}{:02x}{:02x}')".format(*self.color)


def _one_length(
    rel: float | None, px: float | None, rel_name: str, px_name: str, default: float
) -> tuple[float | None, float | None]:
    if rel is not None and px is not None:
        raise MaskConfigError(f"give either {rel_name} or {px_name}, not both")
    for name, v in ((rel_name, rel), (px_name, px)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise MaskConfigError(f"{name} must be a number, got {v!r}")
    if rel is not None and rel > 1:
        # Both readings are plausible (a fraction above 1, or pixels under the wrong name):
        # refuse, naming both, rather than guess.
        raise MaskConfigError(
            f"{rel_name}={rel!r} is ambiguous: {rel_name} is a fraction of the frame height (at "
            f"most 1), so this reads as {rel!r} frame heights; for {rel!r} pixels write "
            f"{px_name}={rel!r}"
        )
    if rel is None and px is None:
        rel = default
    try:
        return (None if rel is None else float(rel), None if px is None else float(px))
    except OverflowError:
        raise MaskConfigError(
            f"{rel_name} / {px_name} must be a length within a double's range, got {rel!r} / {px!r}"
        ) from None


@dataclass(frozen=True, slots=True)
class Mosaic:
    """Pixelation: every covered sample becomes the mean of the covered samples of its block.
    Bounded (one value per block).

    ``block`` is the block edge as a fraction of the frame height (the same strength on a 4K
    stream and its substream); ``block_px`` in luma pixels (at least 2). Give at most one; the
    default is ``block=0.02``. Blocks are rounded up to a multiple of the chroma subsampling.
    """

    block: float | None
    block_px: float | None

    def __init__(self, block: float | None = None, *, block_px: float | None = None) -> None:
        rel, px = _one_length(block, block_px, "block", "block_px", 0.02)
        object.__setattr__(self, "block", rel)
        object.__setattr__(self, "block_px", px)
        _native.validate_style(*self.native_spec())

    @property
    def grade(self) -> Grade:
        return Grade.BOUNDED

    TYPE: ClassVar[str] = "mosaic"
    ONVIF_TYPE: ClassVar[str] = "Pixelated"

    def to_dict(self) -> dict[str, Any]:
        """The style's JSON form (the ``style`` object of a mask)."""
        if self.block_px is not None:
            return {"type": "mosaic", "block_px": self.block_px}
        return {"type": "mosaic", "block": self.block}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Mosaic:
        """The style of a validated JSON ``style`` object."""
        return cls(d.get("block"), block_px=d.get("block_px"))

    def native_spec(self) -> tuple[str, list[float]]:
        """The core's name and parameters for this style."""
        if self.block_px is not None:
            return ("mosaic_px", [self.block_px])
        assert self.block is not None
        return ("mosaic_rel", [self.block])


@dataclass(frozen=True, slots=True)
class Blur:
    """The information-bounded Gaussian blur. Bounded (one value per cell).

    Cells of ``max(2, ceil(sigma_px))`` pixels are averaged, the averages smoothed with a Gaussian
    on the cell grid and interpolated back, so no full-resolution detail survives (a true Gaussian
    can be deconvolved). ``sigma`` is relative to the frame height, ``sigma_px`` in luma pixels
    (at least 1). Give at most one; the default is ``sigma=0.01``.
    """

    sigma: float | None
    sigma_px: float | None

    def __init__(self, sigma: float | None = None, *, sigma_px: float | None = None) -> None:
        rel, px = _one_length(sigma, sigma_px, "sigma", "sigma_px", 0.01)
        object.__setattr__(self, "sigma", rel)
        object.__setattr__(self, "sigma_px", px)
        _native.validate_style(*self.native_spec())

    @property
    def grade(self) -> Grade:
        return Grade.BOUNDED

    TYPE: ClassVar[str] = "blur"
    ONVIF_TYPE: ClassVar[str] = "Blurred"

    def to_dict(self) -> dict[str, Any]:
        """The style's JSON form (the ``style`` object of a mask)."""
        if self.sigma_px is not None:
            return {"type": "blur", "sigma_px": self.sigma_px}
        return {"type": "blur", "sigma": self.sigma}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Blur:
        """The style of a validated JSON ``style`` object."""
        return cls(d.get("sigma"), sigma_px=d.get("sigma_px"))

    def native_spec(self) -> tuple[str, list[float]]:
        """The core's name and parameters for this style."""
        if self.sigma_px is not None:
            return ("blur_px", [self.sigma_px])
        assert self.sigma is not None
        return ("blur_rel", [self.sigma])


@dataclass(frozen=True, slots=True)
class Fill:
    """Covered samples interpolated from the visible samples around the cover. Anonymising.

    Only samples outside the cover are read (pull-push interpolation), so the output carries
    nothing of what was inside, like ``Solid``, yet reads as a continuation of the surroundings
    instead of a black box. A cover that spans the whole frame becomes flat mid-grey.
    ``outline`` (RGB, ``"#rrggbb"`` or a 0-255 triple; off by default) draws a one-sample border
    just inside the cover so viewers can still see that something was masked.
    """

    outline: tuple[int, int, int] | None

    def __init__(self, outline: str | tuple[int, int, int] | None = None) -> None:
        rgb = None if outline is None else _triple(outline, "outline")
        object.__setattr__(self, "outline", rgb)

    @property
    def grade(self) -> Grade:
        return Grade.ANONYMISING

    TYPE: ClassVar[str] = "fill"
    ONVIF_TYPE: ClassVar[str] = "Color"
    """ONVIF has no fill: the nearest is a colour (exported mid-grey, with a warning)."""

    def to_dict(self) -> dict[str, Any]:
        """The style's JSON form (the ``style`` object of a mask)."""
        if self.outline is None:
            return {"type": "fill"}
        return {"type": "fill", "outline": _hex(self.outline)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fill:
        """The style of a validated JSON ``style`` object."""
        return cls(d.get("outline"))

    def native_spec(self) -> tuple[str, list[float]]:
        """The core's name and parameters for this style."""
        return ("fill", [] if self.outline is None else [float(c) for c in self.outline])

    def __repr__(self) -> str:
        if self.outline is None:
            return "Fill()"
        return "Fill(outline='#{:02x}{:02x}{:02x}')".format(*self.outline)


Style = Solid | Mosaic | Blur | Fill

STYLES: dict[str, type[Solid] | type[Mosaic] | type[Blur] | type[Fill]] = {
    cls.TYPE: cls for cls in (Solid, Mosaic, Blur, Fill)
}
"""Every style by its JSON ``type``: adding a style is a class here (with its core kind) and its
schema model."""


def style_from_dict(d: dict[str, Any]) -> Style:
    """The style of a validated JSON ``style`` object (``{"type": "mosaic", "block": 0.02}``)."""
    return STYLES[d["type"]].from_dict(d)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
