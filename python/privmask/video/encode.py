"""Writing video: the encoder and container for a masked copy, set up to keep what the source
had (size, pixel format, time base, rate, colour tags) with errors that say what is wrong."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av

from privmask.errors import VideoError

__all__ = ["close_quietly", "open_output"]

_MOV_MUXERS = frozenset({"mp4", "mov", "ipod", "3gp", "3g2", "psp", "ismv", "f4v"})


def _encoder(name: str) -> Any:
    try:
        codec = av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError as e:
        raise VideoError(f"no encoder {name!r} in this FFmpeg build") from e
    if codec.type != "video":
        raise VideoError(f"{name!r} is not a video codec")
    return codec


def _pick_codec(requested: str | None, source_codec: str, out: Any) -> str:
    """The requested encoder; else the source's own codec when this FFmpeg can encode it and
    the container takes it (same format in, same format out); else the container's default."""
    if requested is not None:
        return str(_encoder(requested).name)
    try:
        name = str(av.codec.Codec(source_codec, "w").name)
    except av.codec.codec.UnknownCodecError:
        return str(out.default_video_codec)
    return name if name in out.supported_codecs else str(out.default_video_codec)


def _quality_options(cc: Any, codec: str, quality: int | None) -> dict[str, str]:
    if quality is None:
        return {}
    if isinstance(quality, bool) or not isinstance(quality, int) or quality < 0:
        raise ValueError(f"quality must be a non-negative integer (a CRF), got {quality!r}")
    private = {o.name for o in cc.supported_options.private}
    if "crf" in private:
        return {"crf": str(quality)}
    raise ValueError(
        f"{codec} has no constant-quality (crf) setting; leave quality unset, or use an encoder "
        "that has one (libx264, libx265, libvpx-vp9, libsvtav1)"
    )


def _check_options(cc: Any, codec: str, options: Mapping[str, str]) -> dict[str, str]:
    known = {o.name for o in cc.supported_options.private} | {
        o.name for o in cc.supported_options.generic
    }
    out = {}
    for k, v in options.items():
        if k not in known:
            raise ValueError(f"{codec} has no option {k!r} (FFmpeg would silently ignore it)")
        out[str(k)] = str(v)
    return out


def open_output(
    tmp: Path,
    dst: Path,
    video: Any,
    fmt: str,
    *,
    codec: str | None,
    quality: int | None,
    encoder_options: Mapping[str, str] | None,
) -> tuple[Any, Any, str]:
    """Opens ``tmp`` for writing with one video stream that keeps ``video``'s size, pixel format,
    time base, rate and colour tags; returns the container, the stream and the encoder's name.
    The caller adds any other streams, then starts encoding."""
    icc = video.codec_context
    try:
        out: Any = av.open(str(tmp), "w")
    except ValueError as e:
        raise VideoError(
            f"{dst}: cannot tell the container format from the file name; use a known "
            "extension such as .mp4, .mkv or .mov"
        ) from e
    try:
        if out.format.name in _MOV_MUXERS and video.time_base.denominator < 2**31:
            # MP4 stores the start of a track in the movie's time scale (1/1000 s by default):
            # in the video's own scale, a start pts like 90000 * 3 + 17 survives exactly.
            out.container_options["movie_timescale"] = str(video.time_base.denominator)
        codec_name = _pick_codec(codec, icc.name, out)
        _encoder(codec_name)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        try:
            ostream = out.add_stream(codec_name, rate=rate) if rate else out.add_stream(codec_name)
        except ValueError as e:
            raise VideoError(f"{dst}: {e}") from e
        occ = ostream.codec_context
        # Frame threads where the encoder has them (x264's are the efficient kind; PyAV's
        # default, slice threads, makes x264 cut every picture into slices and scale worse).
        occ.thread_type = "AUTO"
        supported = {f.name for f in (occ.codec.video_formats or ())}
        if supported and fmt not in supported:
            raise VideoError(
                f"{codec_name} cannot encode {fmt} (it takes {', '.join(sorted(supported))}); "
                "privmask keeps the pixel format, so choose another codec"
            )
        ostream.width, ostream.height, ostream.pix_fmt = icc.width, icc.height, fmt
        ostream.time_base = video.time_base
        occ.time_base = video.time_base
        for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
            setattr(occ, attr, getattr(icc, attr))
        if icc.sample_aspect_ratio:
            occ.sample_aspect_ratio = icc.sample_aspect_ratio
        options = _check_options(occ, codec_name, encoder_options or {})
        options.update(_quality_options(occ, codec_name, quality))
        if quality is None and "crf" not in options and icc.bit_rate and not occ.codec.lossless:
            occ.bit_rate = icc.bit_rate  # no CRF: at least not below the source's bit rate
        occ.options = options
    except BaseException:
        out.close()
        raise
    return out, ostream, codec_name


def close_quietly(container: Any) -> None:
    # The input (nothing to lose) or an output being abandoned after a failure, whose first
    # error is the one to report.
    with contextlib.suppress(Exception):
        container.close()
