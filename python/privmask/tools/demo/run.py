"""Running the demo: record the scene, mask the recording with a timeline, show what came out.

Every picture of the export is decoded from ``masked.mp4`` itself, so what the PNGs show is what
the file holds, before and after the configuration changes. Pictures that are not the export
(the lifted view, the style comparison) say so in their labels and in the summary.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

import privmask as pm
from privmask.tools.demo.pictures import (
    decode_frames,
    labelled,
    styles_strip,
    switch_strip,
    to_rgb,
    to_yuv,
)
from privmask.tools.demo.scene import (
    FPS,
    HEIGHT,
    RECORDED,
    WIDTH,
    background,
    build_masks,
    build_timeline,
    face_box,
    face_sprite,
    render_frame,
)

__all__ = ["FRAME_EVERY", "main", "run"]

FRAME_EVERY = 8
"""``frames/frame_XXX.png``: every 8th frame of ``masked.mp4``."""


def run(out: Path, frames: int) -> list[Path]:
    """Records ``frames`` frames of the scene into ``out/sample.mp4``, masks it into
    ``out/masked.mp4`` with the demo timeline, writes the pictures, prints what each output
    shows and returns the files written."""
    from PIL import Image

    from privmask.video.files import mask_file

    masks = build_masks()
    out.mkdir(parents=True, exist_ok=True)
    frames_dir = out / "frames"
    frames_dir.mkdir(exist_ok=True)
    for stale in frames_dir.glob("frame_*.png"):  # an earlier, longer run's
        stale.unlink()
    shows: dict[Path, str] = {}

    def save(img: Any, name: str, what: str) -> None:
        img.save(out / name)
        shows[out / name] = what

    (out / "masks.json").write_text(masks.to_json() + "\n")
    shows[out / "masks.json"] = f"the mask set of version 0 ({len(masks)} masks, listed above)"

    # The camera: each frame encoded unmasked into sample.mp4; the same picture masked in
    # memory as a live view would (a PyAV frame, wrapped without a copy), timing apply alone.
    bg = np.clip(np.rint(background()), 0, 255).astype(np.uint8)
    face = face_sprite()
    times_ms: list[float] = []
    sample_path = out / "sample.mp4"
    container, stream = _sample_writer(sample_path)
    with container:
        for i in range(frames):
            rgb = render_frame(i, frames, bg, face)
            recorded = to_yuv(rgb)
            recorded.pts, recorded.time_base = i, Fraction(1, FPS)
            container.mux(stream.encode(recorded))
            live = to_yuv(rgb)
            wrapped = pm.Frame.from_av(live)  # a view of the PyAV frame's planes
            t0 = time.perf_counter()
            pm.apply(wrapped, masks)
            times_ms.append((time.perf_counter() - t0) * 1e3)
        container.mux(stream.encode(None))
    shows[sample_path] = (
        f"the unmasked recording: {frames} frames, {WIDTH}x{HEIGHT} at {FPS} fps, "
        f"creation_time {RECORDED.isoformat()}, a title"
    )

    # The job: the recording masked with the masks in force when each frame was recorded.
    timeline = build_timeline(frames)
    (out / "timeline.json").write_text(timeline.to_json() + "\n")
    masked_path = out / "masked.mp4"
    report = mask_file(
        sample_path,
        masked_path,
        timeline,  # the start comes from sample.mp4's creation_time
        quality=20,
        encoder_options={"preset": "veryfast"},
        progress=False,
    )
    versions = ", ".join(
        f"frames {u.first_frame}-{u.last_frame} version {u.index}" for u in report.versions
    )
    shows[out / "timeline.json"] = f"the configuration history: {len(timeline)} versions"
    shows[masked_path] = f"the export ({versions}); no audio, metadata or title"

    # Pictures of the export, decoded from masked.mp4 (and of the recording, from sample.mp4).
    sample = round(0.75 * (frames - 1))  # the face is well inside the footpath zone here
    every = list(range(0, frames, FRAME_EVERY))
    exported = decode_frames(masked_path, [*every, sample])
    original = decode_frames(sample_path, [sample])[sample]

    def version(i: int) -> int:
        return next(u.index for u in report.versions if u.first_frame <= i <= u.last_frame)

    for i in every:
        img = Image.fromarray(exported[i])
        img.save(frames_dir / f"frame_{i:03d}.png")
    per_version = "; ".join(
        f"version {u.index}: {', '.join(str(i) for i in every if version(i) == u.index) or '-'}"
        for u in report.versions
    )
    shows[frames_dir] = (
        f"frame_XXX.png: every {FRAME_EVERY}th frame decoded from masked.mp4 ({per_version})"
    )
    save(
        labelled(
            [
                (f"sample.mp4, frame {sample}", original),
                (f"masked.mp4, frame {sample} (version {version(sample)})", exported[sample]),
            ]
        ),
        "before_after.png",
        f"frame {sample} of the recording and of the export (version {version(sample)})",
    )
    lifted = to_yuv(original)
    pm.apply(lifted, masks, lifted=True)  # an av.VideoFrame works directly, too
    save(
        labelled([("masks.json, lifted=True: permanent masks only", to_rgb(lifted))]),
        "lifted.png",
        f"frame {sample} under masks.json for a viewer with a lift: only the permanent masks "
        "(a live view, not in masked.mp4)",
    )
    save(
        styles_strip(original, face_box(sample, frames)),
        "styles.png",
        f"the face in frame {sample} under each style, one mask each (a comparison, not in "
        "masked.mp4)",
    )
    save(
        switch_strip(sample_path, masked_path, report),
        "switch.png",
        "the frames either side of the switch: sample.mp4 above, masked.mp4 below",
    )

    print(f"privmask {pm.__version__} demo: {WIDTH}x{HEIGHT} yuv420p, {frames} frames")
    print(f"mask set ({len(masks)} masks), content_hash {masks.content_hash}")
    for m in masks:
        kind = "liftable " if m.liftable else "permanent"
        style = ", ".join(f"{k}={v}" for k, v in m.to_dict()["style"].items() if k != "type")
        style = f"{type(m.style).__name__}({style})"
        print(f"  {kind}  {m.style.grade.value:<11}  {style:<22}  {m.name}")
    print(
        f"apply: median {statistics.median(times_ms):.3f} ms/frame "
        f"(min {min(times_ms):.3f}, max {max(times_ms):.3f}; apply call only)"
    )
    print(f"timeline: {len(timeline)} versions, recording started {RECORDED.isoformat()}")
    for index, v in enumerate(timeline):
        names = ", ".join(m.name for m in v.masks)
        print(f"  version {index} since {v.since.isoformat()}  {v.content_hash[:16]}  {names}")
    print(report.summary())
    print("written:")
    width = max(len(str(p)) for p in shows)
    for path, what in shows.items():
        print(f"  {path!s:<{width}}  {what}")
    return sorted([*shows, *(frames_dir / f"frame_{i:03d}.png" for i in every)])


def _sample_writer(path: Path) -> tuple[Any, Any]:
    """The sample recording's container and H.264 stream, tagged like a camera's file: a
    ``creation_time`` (which ``mask_file`` takes as the recording start) and a title (which the
    masked export must not carry)."""
    import av

    container = av.open(str(path), "w")
    container.metadata["creation_time"] = RECORDED.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    container.metadata["title"] = "street camera 7"
    stream = container.add_stream("libx264", rate=FPS, options={"crf": "18", "preset": "veryfast"})
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    cc = stream.codec_context
    cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1  # BT.709, TV
    return container, stream


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m privmask.tools.demo [--out DIR] [--frames N]``; returns the exit status
    (2 for bad arguments or when PyAV or Pillow is missing)."""
    parser = argparse.ArgumentParser(
        prog="python -m privmask.tools.demo",
        description=(
            "Make a sample 1080p recording, mask it with a timeline whose masks change halfway, "
            "and write the masked video, its frames and before/after pictures."
        ),
    )
    parser.add_argument("--out", type=Path, default=Path("demo"), help="output directory")
    parser.add_argument(
        "--frames",
        type=int,
        default=4 * FPS,
        help=f"number of frames to generate (default {4 * FPS}: four seconds)",
    )
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error("--frames must be at least 1")
    try:
        import av  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as e:
        print(
            f"the demo needs PyAV and Pillow, which installing privmask-video brings "
            f"(pip install . in a clone): {e}",
            file=sys.stderr,
        )
        return 2
    run(args.out, args.frames)
    return 0
