"""Makes a sample recording, masks it with a changing configuration, and shows the result.

Run as ``python -m privmask.tools.demo --out demo`` (what ``make demo`` does). Needs PyAV and
Pillow, which installing privmask-video brings; downloads nothing. The clip is drawn in memory,
deterministic, 1920x1080 at 25 fps: a street scene with a neighbour's house (a window and a
pentagonal attic window), a notice board with text, a van driving past and a face-sized patch
walking along a footpath. Four privacy masks cover them, in all three styles, permanent and
liftable.

The frames are encoded unmasked to ``sample.mp4`` (with a ``creation_time``, as a camera would
write it) and masked in memory as a live view would, timing ``apply`` alone. Then the real job
runs on the recording: :func:`privmask.video.mask_file` with a *timeline* whose mask set changes
halfway through the clip (the operator masked the whole house front and switched the footpath to
a mosaic), so every frame gets the masks in force when it was recorded.

Written to the output directory: ``masks.json`` (the first mask set), ``sample.mp4``,
``timeline.json`` (the two versions), ``masked.mp4`` (the export), ``frames/frame_XXX.png``
(every 8th frame decoded from ``masked.mp4``), ``before_after.png`` (one frame of
``sample.mp4`` beside the same frame of ``masked.mp4``), ``lifted.png`` (masks.json with the
liftable masks lifted: only the permanent ones apply), ``styles.png`` (one crop under solid,
mosaic, blur and fill) and ``switch.png`` (frames either side of the change, both files). The
run prints what each of them shows.

Modules: :mod:`~privmask.tools.demo.scene` (the scene and its masks),
:mod:`~privmask.tools.demo.pictures` (frames, decoding, labelled strips),
:mod:`~privmask.tools.demo.run` (the run and the command line).
"""

from privmask.tools.demo.run import FRAME_EVERY, main, run
from privmask.tools.demo.scene import (
    FPS,
    HEIGHT,
    HOUSE,
    RECORDED,
    WIDTH,
    build_masks,
    build_masks_after,
    build_timeline,
    render_frame,
    switch_frame,
)

__all__ = [
    "FPS",
    "FRAME_EVERY",
    "HEIGHT",
    "HOUSE",
    "RECORDED",
    "WIDTH",
    "build_masks",
    "build_masks_after",
    "build_timeline",
    "main",
    "render_frame",
    "run",
    "switch_frame",
]
