"""Type stubs for the compiled module ``privmask._native`` (the Rust core's bindings)."""

from collections.abc import Sequence
from typing import final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CompiledMasks",
    "MotionDetector",
    "__version__",
    "colour_samples",
    "compile",
    "format_table",
    "formats",
    "set_simd_level",
    "set_threads",
    "simd_level",
    "simd_levels",
    "threads",
    "validate_polygon",
    "validate_style",
]

__version__: str

@final
class CompiledMasks:
    """Masks compiled for one frame geometry; immutable and shareable across threads."""

    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def format(self) -> str: ...
    @property
    def matrix(self) -> str: ...
    @property
    def full_range(self) -> bool: ...
    def __len__(self) -> int: ...
    def apply_planes(
        self,
        planes: Sequence[npt.NDArray[np.uint8] | npt.NDArray[np.uint16]],
        lifted: bool = False,
        parallel: bool = True,
    ) -> None: ...
    def coverage(self, lifted: bool = False) -> npt.NDArray[np.bool_]: ...

@final
class MotionDetector:
    """A motion detector: a running-average background model of one camera's luma plane, giving
    the boxes (in luma pixels) of what moves. Holds state, so one per stream."""

    def __new__(
        cls,
        width: int,
        height: int,
        *,
        scale: int = 4,
        merge_frames: float = 50.0,
        threshold: float = 18.0,
        open_radius: int = 1,
        dilate_radius: int = 2,
        min_cells: int = 4,
        warmup_frames: int = 5,
    ) -> MotionDetector: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def frames(self) -> int: ...
    def reset(self) -> None: ...
    def set_exclusion(self, excluded: npt.NDArray[np.uint8]) -> None: ...
    def process(
        self, luma: npt.NDArray[np.uint8]
    ) -> tuple[bool, list[tuple[int, int, int, int]]]: ...

def compile(
    masks: Sequence[tuple[Sequence[tuple[float, float]], str, Sequence[float], bool]],
    width: int,
    height: int,
    format: str,
    matrix: str | None = None,
    full_range: bool | None = None,
) -> CompiledMasks: ...
def colour_samples(
    kind: str, values: tuple[int, int, int], format: str, matrix: str, full_range: bool
) -> tuple[int, int, int]: ...
def validate_polygon(points: Sequence[tuple[float, float]]) -> None: ...
def validate_style(kind: str, params: Sequence[float]) -> None: ...
def formats() -> list[str]: ...
def format_table() -> list[tuple[str, tuple[int, int], list[int], int, int, int, bool, bool]]: ...
def set_threads(threads: int) -> None: ...
def simd_level() -> str: ...
def simd_levels() -> list[str]: ...
def set_simd_level(name: str) -> None: ...
def threads() -> int: ...
