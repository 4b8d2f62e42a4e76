"""The on-disk JSON format of mask sets, validated with pydantic.

pydantic v2 is used because it validates and reports errors by field path, produces the
published JSON Schema from the same models, and is already in most Python data stacks.

Format, version 1::

    {"privmask": 1,
     "masks": [{"name": "window", "liftable": false,
                "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4]],
                "style": {"type": "solid", "color": "#000000"}}]}

Styles: ``{"type": "solid", "color": "#rrggbb" | [r, g, b]}`` or ``{"type": "solid",
"yuv": [y, u, v]}``; ``{"type": "mosaic", "block": 0.02}`` or ``{"block_px": 16}``;
``{"type": "blur", "sigma": 0.01}`` or ``{"sigma_px": 8}``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from privmask.errors import MaskConfigError

__all__ = ["SCHEMA_VERSION", "MaskSetModel", "json_schema", "parse_mask_set"]

SCHEMA_VERSION = 1

_Byte = Annotated[int, Field(ge=0, le=255, strict=True)]
_Triple = tuple[_Byte, _Byte, _Byte]
_Coord = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SolidModel(_Strict):
    type: Literal["solid"]
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] | _Triple | None = None
    yuv: _Triple | None = None


class MosaicModel(_Strict):
    type: Literal["mosaic"]
    block: Annotated[float, Field(gt=0, le=1)] | None = None
    block_px: Annotated[float, Field(ge=2)] | None = None


class BlurModel(_Strict):
    type: Literal["blur"]
    sigma: Annotated[float, Field(gt=0, le=1)] | None = None
    sigma_px: Annotated[float, Field(ge=1)] | None = None


StyleModel = Annotated[SolidModel | MosaicModel | BlurModel, Field(discriminator="type")]


class MaskModel(_Strict):
    name: str = ""
    polygon: Annotated[list[tuple[_Coord, _Coord]], Field(min_length=3)]
    style: StyleModel = SolidModel(type="solid")
    liftable: bool = False


class MaskSetModel(_Strict):
    privmask: Literal[1] = Field(description="Schema version of the file.")
    masks: list[MaskModel]


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of a mask-set file."""
    schema = MaskSetModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "privmask mask set"
    return schema


def format_path(loc: tuple[int | str, ...]) -> str:
    """``('masks', 2, 'style', 'mosaic', 'block')`` -> ``masks[2].style.block``."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and loc[i - 1] == "style" and part in ("solid", "mosaic", "blur"):
            continue  # pydantic names the union member; the path should not
        else:
            out += f".{part}" if out else part
    return out


def parse_mask_set(text: str | bytes) -> MaskSetModel:
    """Parses and validates mask-set JSON; raises :class:`MaskConfigError` naming the field."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MaskConfigError(f"not valid JSON: {e}") from e
    if isinstance(raw, dict) and "privmask" in raw and raw["privmask"] != SCHEMA_VERSION:
        raise MaskConfigError(
            f"schema version {raw['privmask']!r} is not supported; this privmask reads version "
            f"{SCHEMA_VERSION}",
            "privmask",
        )
    try:
        return MaskSetModel.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise MaskConfigError(err["msg"], format_path(tuple(err["loc"]))) from e
