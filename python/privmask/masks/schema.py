"""The on-disk JSON formats of mask sets and mask timelines, validated with pydantic.

pydantic v2 is used because it validates and reports errors by field path, produces the
published JSON Schema from the same models, and is already in most Python data stacks.

Format, version 1::

    {"privmask": 1,
     "masks": [{"name": "window", "liftable": false,
                "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4]],
                "style": {"type": "solid", "color": "#000000"}}]}

Styles: ``{"type": "solid", "color": "#rrggbb" | [r, g, b]}`` or ``{"type": "solid",
"yuv": [y, u, v]}``; ``{"type": "mosaic", "block": 0.02}`` or ``{"block_px": 16}``;
``{"type": "blur", "sigma": 0.01}`` or ``{"sigma_px": 8}``; ``{"type": "fill"}``, optionally
with ``"outline": "#rrggbb"``.

A PTZ camera's scene-locked mask gives ``"scene": [[pan_deg, tilt_deg], ...]`` instead of
``"polygon"`` (exactly one of the two), optionally with ``"margin_deg"`` and ``"min_zoom"``.

A timeline lists mask sets by the time they came into force, oldest first; its mask
objects are exactly those of a mask set, so one model validates both::

    {"privmask": 1,
     "timeline": [{"since": "2026-01-01T00:00:00+00:00", "content_hash": "3f2a...",
                   "masks": [...]},
                  {"since": "2026-03-01T08:30:00+01:00", "masks": [...]}]}

``since`` is an ISO 8601 timestamp with a UTC offset (a naive time would be read differently in
every time zone); ``content_hash`` is optional and, when present, must match the masks.

A PTZ camera's pose track (what scene-locked masks are placed with, frame by frame) lists the
camera's position reports by time on the video stream's clock, oldest first::

    {"privmask": 1, "max_age": 0.5, "latency": 0.1,
     "zoom_map": [[0.0, 62.0], [1.0, 3.1]],
     "poses": [{"t": 0.0, "pan": 12.5, "tilt": -8.0, "zoom": 0.25},
               {"t": 0.2, "pan": 14.0, "tilt": -8.0, "hfov": 40.0}]}

Each pose gives ``hfov`` (degrees), or ``zoom`` converted through the file's ``zoom_map``.

Every field is strictly typed, as the published schema says: a boolean is ``true`` or ``false``
(never ``"yes"``), a number is a JSON number (never ``"0.5"``), and the schema version is the
integer ``1`` (never ``true``). Numbers the document cannot mean (more digits than any double,
``NaN``, ``Infinity``) and nesting deeper than any privmask document are refused with
:class:`~privmask.errors.MaskConfigError`, never a bare ``ValueError`` or ``RecursionError``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    model_validator,
)

from privmask.errors import MaskConfigError
from privmask.masks.geometry import MAX_VERTICES
from privmask.masks.maskset import JSON_VERSION
from privmask.masks.styles import MAX_LENGTH_PX, MIN_BLOCK_PX, MIN_SIGMA_PX

__all__ = [
    "MAX_NUMBER_DIGITS",
    "SCHEMA_VERSION",
    "HugeNumber",
    "MaskSetModel",
    "PoseTrackModel",
    "TimelineModel",
    "VersionModel",
    "json_schema",
    "load_json",
    "parse_document",
    "parse_mask_set",
    "parse_pose_track",
    "parse_timeline",
    "pose_track_json_schema",
    "timeline_json_schema",
]

SCHEMA_VERSION = JSON_VERSION  # one number, defined beside the writer

# A JSON number with more digits than this is no coordinate or setting: the largest finite double
# has 309 integer digits. Longer ones are refused by field path instead of being converted (Python
# refuses int() of more than 4,300 digits, and a million-digit number would take seconds).
MAX_NUMBER_DIGITS: Final = 400


def _schema_version(value: object) -> object:
    """The schema version is the JSON integer 1: ``true`` equals 1 in Python but is not a
    version, and ``1.0`` is not the integer the schema publishes."""
    if type(value) is not int:
        raise ValueError(f"the schema version must be the integer {SCHEMA_VERSION}, got {value!r}")
    return value


_Version = Annotated[Literal[1], BeforeValidator(_schema_version)]
_Byte = Annotated[int, Field(ge=0, le=255, strict=True)]
_Triple = tuple[_Byte, _Byte, _Byte]
_Coord = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Hex = Annotated[StrictStr, Field(pattern=r"^#[0-9a-fA-F]{6}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SolidModel(_Strict):
    type: Literal["solid"]
    color: _Hex | _Triple | None = None
    yuv: _Triple | None = None


class MosaicModel(_Strict):
    type: Literal["mosaic"]
    block: Annotated[float, Field(strict=True, gt=0, le=1)] | None = None
    block_px: Annotated[float, Field(strict=True, ge=MIN_BLOCK_PX, le=MAX_LENGTH_PX)] | None = None


class BlurModel(_Strict):
    type: Literal["blur"]
    sigma: Annotated[float, Field(strict=True, gt=0, le=1)] | None = None
    sigma_px: Annotated[float, Field(strict=True, ge=MIN_SIGMA_PX, le=MAX_LENGTH_PX)] | None = None


class FillModel(_Strict):
    type: Literal["fill"]
    outline: _Hex | _Triple | None = None


StyleModel = Annotated[
    SolidModel | MosaicModel | BlurModel | FillModel, Field(discriminator="type")
]


_Tilt = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]


class MaskModel(_Strict):
    name: StrictStr = ""
    polygon: (
        Annotated[list[tuple[_Coord, _Coord]], Field(min_length=3, max_length=MAX_VERTICES)] | None
    ) = Field(
        default=None, description="Image-locked vertices (x, y), normalised, top-left origin."
    )
    scene: Annotated[list[tuple[_Coord, _Tilt]], Field(min_length=3)] | None = Field(
        default=None,
        description="Scene-locked vertices (pan_deg, tilt_deg) for PTZ cameras; "
        "exactly one of polygon and scene.",
    )
    margin_deg: Annotated[float, Field(strict=True, ge=0, lt=45, allow_inf_nan=False)] | None = (
        Field(default=None, description="Scene masks only: extra angle on every side.")
    )
    min_zoom: _Coord | None = Field(
        default=None, description="Scene masks only: shown only at or beyond this zoom value."
    )
    style: StyleModel = SolidModel(type="solid")
    liftable: StrictBool = False

    @model_validator(mode="after")
    def _one_anchoring(self) -> MaskModel:
        if (self.polygon is None) == (self.scene is None):
            raise ValueError(
                "give exactly one of 'polygon' (image-locked) or 'scene' (scene-locked)"
            )
        if self.polygon is not None and (self.margin_deg is not None or self.min_zoom is not None):
            raise ValueError("'margin_deg' and 'min_zoom' apply to scene-locked masks only")
        return self


class MaskSetModel(_Strict):
    privmask: _Version = Field(description="Schema version of the file.")
    masks: list[MaskModel]


def _timestamp_text(value: object) -> object:
    """Only ISO 8601 strings are timestamps: pydantic would also take a bare number as Unix
    seconds, which in a hand-edited file is far more likely a mistake than a time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(
            "must be an ISO 8601 timestamp with a UTC offset, like '2026-01-01T00:00:00+00:00'"
        )
    return value


_Since = Annotated[AwareDatetime, BeforeValidator(_timestamp_text)]
_Hash = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]


class VersionModel(_Strict):
    since: _Since = Field(description="When this mask set came into force (with a UTC offset).")
    content_hash: _Hash | None = Field(
        default=None, description="SHA-256 of the mask set's canonical JSON; checked if given."
    )
    masks: list[MaskModel]


class TimelineModel(_Strict):
    privmask: _Version = Field(description="Schema version of the file.")
    timeline: Annotated[list[VersionModel], Field(min_length=1)]


_Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Fov = Annotated[float, Field(strict=True, gt=0, lt=180, allow_inf_nan=False)]
_NonNegative = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]


class PoseModel(_Strict):
    t: _Finite = Field(description="Seconds on the video stream's clock (pts x time base).")
    pan: _Finite = Field(description="Pan in degrees (any value; wrapped to [-180, 180)).")
    tilt: _Tilt = Field(description="Tilt in degrees.")
    hfov: _Fov | None = Field(
        default=None, description="Horizontal field of view in degrees; else from zoom_map."
    )
    zoom: _Finite | None = Field(default=None, description="The camera's own zoom value.")

    @model_validator(mode="after")
    def _field_of_view(self) -> PoseModel:
        if self.hfov is None and self.zoom is None:
            raise ValueError("give 'hfov', or 'zoom' with a 'zoom_map' in the file")
        return self


class PoseTrackModel(_Strict):
    privmask: _Version = Field(description="Schema version of the file.")
    max_age: _NonNegative = Field(
        default=0.5, description="Seconds a pose stays current; beyond, frames fail closed."
    )
    latency: _NonNegative = Field(
        default=0.0, description="Seconds the position reports lag the picture."
    )
    zoom_map: Annotated[list[tuple[_Finite, _Fov]], Field(min_length=2)] | None = Field(
        default=None, description="Calibration (zoom, hfov_deg), zoom increasing."
    )
    poses: Annotated[list[PoseModel], Field(min_length=1)]


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of a mask-set file."""
    schema = MaskSetModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "privmask mask set"
    return schema


def timeline_json_schema() -> dict[str, Any]:
    """The published JSON Schema of a timeline file."""
    schema = TimelineModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "privmask timeline"
    return schema


def pose_track_json_schema() -> dict[str, Any]:
    """The published JSON Schema of a pose-track file."""
    schema = PoseTrackModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "privmask PTZ pose track"
    return schema


def format_path(loc: tuple[int | str, ...]) -> str:
    """``('masks', 2, 'style', 'mosaic', 'block')`` -> ``masks[2].style.block``."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and loc[i - 1] == "style" and part in ("solid", "mosaic", "blur", "fill"):
            continue  # pydantic names the union member; the path should not
        else:
            out += f".{part}" if out else part
    return out


class HugeNumber:
    """Stands in for a JSON number of more than :data:`MAX_NUMBER_DIGITS` digits, so validation
    refuses it by field path (no field accepts it) without ever converting it."""

    __slots__ = ("digits",)

    def __init__(self, text: str) -> None:
        self.digits = sum(c.isdigit() for c in text)

    def __repr__(self) -> str:
        return f"<a number of {self.digits} digits>"


def _json_int(text: str) -> int | HugeNumber:
    return HugeNumber(text) if len(text) > MAX_NUMBER_DIGITS else int(text)


def _json_float(text: str) -> float | HugeNumber:
    if len(text) > MAX_NUMBER_DIGITS:
        return HugeNumber(text)
    value = float(text)
    if not math.isfinite(value):
        # 1e400: a JSON number, but no double holds it; pydantic names the field.
        return HugeNumber(text)
    return value


def load_json(text: str | bytes) -> Any:
    """JSON text to Python values, refusing with :class:`MaskConfigError` what no privmask
    document holds: invalid JSON or UTF-8, nesting deeper than the parser's recursion limit.
    Numbers of more than :data:`MAX_NUMBER_DIGITS` digits, or beyond a double's range, become
    :class:`HugeNumber` (validation then refuses them by field path).
    Raises ``TypeError`` for anything but ``str`` or ``bytes``."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"JSON text must be str or bytes, got {type(text).__name__}")
    try:
        # NaN and Infinity (not JSON, but common) are read as floats, so validation refuses
        # them by field path like any other non-finite number.
        return json.loads(text, parse_int=_json_int, parse_float=_json_float)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MaskConfigError(f"not valid JSON: {e}") from e
    except RecursionError as e:
        raise MaskConfigError("not a privmask document: nested too deeply to read") from e
    except ValueError as e:  # e.g. bytes in no JSON encoding
        raise MaskConfigError(f"not valid JSON: {e}") from e


def _load(text: str | bytes) -> Any:
    """:func:`load_json`, with the schema version checked before anything else so an old
    privmask reading a newer file says so instead of listing every field it does not know."""
    raw = load_json(text)
    if isinstance(raw, dict) and "privmask" in raw:
        version = raw["privmask"]
        if type(version) is not int or version != SCHEMA_VERSION:
            raise MaskConfigError(
                f"schema version {version!r} is not supported; this privmask reads version "
                f"{SCHEMA_VERSION} (the integer)",
                "privmask",
            )
    return raw


# A relative length above 1 is most likely meant in pixels: say so, naming both readings.
_PIXEL_TWINS: Final = {"block": "block_px", "sigma": "sigma_px"}


def _message(err: Any) -> str:
    value = err.get("input")
    loc = err["loc"]
    if isinstance(value, HugeNumber):
        return f"{value!r} is not a number privmask can use (too many digits, or beyond a double)"
    last = loc[-1] if loc else None
    if (
        last in _PIXEL_TWINS
        and type(value) in (int, float)
        and value > 1
        and err["type"] == "less_than_equal"
    ):
        twin = _PIXEL_TWINS[str(last)]
        return (
            f"{value} is ambiguous: '{last}' is a fraction of the frame height (at most 1), so "
            f"this reads as {value} frame heights; for {value} pixels write '{twin}': {value}"
        )
    msg: str = err["msg"]
    return msg


def _validate(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise MaskConfigError(_message(err), format_path(tuple(err["loc"]))) from e
    except RecursionError as e:
        raise MaskConfigError("not a privmask document: nested too deeply to validate") from e


def parse_mask_set(text: str | bytes) -> MaskSetModel:
    """Parses and validates mask-set JSON; raises :class:`MaskConfigError` naming the field."""
    model: MaskSetModel = _validate(MaskSetModel, _load(text))
    return model


def _check_order(model: TimelineModel) -> None:
    for i in range(1, len(model.timeline)):
        before, since = model.timeline[i - 1].since, model.timeline[i].since
        # Instants, never wall clocks (two datetimes sharing a tzinfo compare by wall clock).
        if since.astimezone(UTC) <= before.astimezone(UTC):
            raise MaskConfigError(
                f"{since.isoformat()} is not later than timeline[{i - 1}].since "
                f"({before.isoformat()}); versions are listed oldest first, one per instant",
                f"timeline[{i}].since",
            )


def parse_timeline(text: str | bytes) -> TimelineModel:
    """Parses and validates timeline JSON, including the order of the versions; raises
    :class:`MaskConfigError` naming the field (``timeline[1].since``)."""
    model: TimelineModel = _validate(TimelineModel, _load(text))
    _check_order(model)
    return model


def parse_pose_track(text: str | bytes) -> PoseTrackModel:
    """Parses and validates pose-track JSON, including the order of the samples; raises
    :class:`MaskConfigError` naming the field (``poses[3].t``)."""
    model: PoseTrackModel = _validate(PoseTrackModel, _load(text))
    for i in range(1, len(model.poses)):
        if model.poses[i].t <= model.poses[i - 1].t:
            raise MaskConfigError(
                f"{model.poses[i].t} is not later than poses[{i - 1}].t ({model.poses[i - 1].t}); "
                "poses are listed oldest first, one per instant",
                f"poses[{i}].t",
            )
    if model.zoom_map is None:
        for i, pose in enumerate(model.poses):
            if pose.hfov is None:
                raise MaskConfigError(
                    "no 'hfov', and the file has no 'zoom_map' to derive it from 'zoom'",
                    f"poses[{i}].hfov",
                )
    return model


def parse_document(text: str | bytes) -> MaskSetModel | TimelineModel:
    """Parses either kind of file, told apart by its top-level key (``masks`` or ``timeline``),
    so every command that takes masks takes both."""
    raw = _load(text)
    if isinstance(raw, dict) and "timeline" in raw and "masks" not in raw:
        model: TimelineModel = _validate(TimelineModel, raw)
        _check_order(model)
        return model
    if isinstance(raw, dict) and "timeline" in raw:
        raise MaskConfigError(
            "a file is either a mask set ('masks') or a timeline ('timeline'), not both", "timeline"
        )
    if isinstance(raw, dict) and "masks" not in raw and "privmask" in raw:
        raise MaskConfigError(
            "Field required: a mask set needs 'masks', a timeline 'timeline'", "masks"
        )
    mask_set: MaskSetModel = _validate(MaskSetModel, raw)
    return mask_set
