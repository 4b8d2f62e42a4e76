"""Writing video: the encoder and container for a masked copy, set up to keep what the source
had (size, pixel format, time base, rate, colour tags, sample aspect ratio, display matrix,
field order) with errors that say what is wrong and what to do.

**Codec.** The requested encoder; else the source's own codec when this FFmpeg can encode it
and the output container takes it; else the container's default.

**Quality.** Without ``quality`` (a CRF) or a rate option, libx264 and libx265 encode at constant
quality :data:`DEFAULT_CRF` capped at :data:`MAX_RATE_FACTOR` times the source's bit rate
(``maxrate``, with a two-second ``bufsize``): a masked copy looks like its source (>= 40 dB
PSNR outside the masks on a detailed 16 Mb/s H.264 source, ``benches/bench_quality.py``) and is
never much larger than it. Encoders without a CRF get the source's bit rate.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from privmask.errors import VideoError

__all__ = [
    "DEFAULT_CRF",
    "MAX_RATE_FACTOR",
    "EncoderPlan",
    "can_copy",
    "close_quietly",
    "ffmpeg_reason",
    "open_output",
    "start_encoding",
]

DEFAULT_CRF = {"libx264": 16, "libx265": 18}
"""The constant-quality setting used when none is given (lower is better; x264's own default
is 23, which loses detail visibly on a sharp source)."""
MAX_RATE_FACTOR = Fraction(13, 10)
"""The default cap on the output's bit rate, as a multiple of the source's."""

_MOV_MUXERS = frozenset({"mp4", "mov", "ipod", "3gp", "3g2", "psp", "ismv", "f4v"})
# Muxers that do not answer FFmpeg's codec query (so PyAV lists too few codecs for them): the
# video codecs their specifications carry.
_MUXER_VIDEO = {
    "mpegts": frozenset(
        {"mpeg1video", "mpeg2video", "mpeg4", "h264", "hevc", "vc1", "av1", "cavs", "dirac"}
    ),
    "mpeg": frozenset({"mpeg1video", "mpeg2video"}),
    "vob": frozenset({"mpeg1video", "mpeg2video"}),
    "svcd": frozenset({"mpeg2video"}),
    "dvd": frozenset({"mpeg2video"}),
}
# Encoders whose time base must be the frame period (MPEG-1/2 code a frame-rate index, MPEG-4
# Part 2 a 16-bit time increment): frames are re-timed onto that grid.
_RATE_TIME_BASE = frozenset(
    {"mpeg1video", "mpeg2video", "mpeg4", "msmpeg4v2", "msmpeg4", "h263", "h263p", "flv", "wmv1"}
)
# Encoders that code fields (interlaced DCT and motion estimation) when asked.
_FIELD_CODING = frozenset({"libx264", "mpeg2video", "mpeg4"})
_FIELD_TOP_FIRST = (2, 4)  # AV_FIELD_TT, AV_FIELD_TB
_FIELD_PROGRESSIVE = 1


@dataclass(frozen=True)
class EncoderPlan:
    """What the writer needs besides the stream: the encoder's time base (frames are re-timed
    into it when it differs from the source's) and the pixel format it encodes."""

    codec: str
    time_base: Fraction
    retime: bool
    """True when frame times must be rescaled (or, without pts, made from the rate)."""
    pix_fmt: str


def _encoder(name: str) -> Any:
    try:
        codec = av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError as e:
        raise VideoError(f"no encoder {name!r} in this FFmpeg build") from e
    if codec.type != "video":
        raise VideoError(f"{name!r} is not a video codec")
    return codec


def takes_codec(out: Any, name: str) -> bool:
    """Whether the output container ``out`` can carry video codec ``name`` (a codec, not an
    encoder, name: ``h264``)."""
    return name in out.supported_codecs or name in _MUXER_VIDEO.get(out.format.name, ())


def can_copy(out: Any, stream: Any) -> str | None:
    """``None`` when ``stream``'s packets can be copied into ``out``'s container format as they
    are (what ``ffmpeg -c copy`` would do), else FFmpeg's reason: the muxer is asked to write a
    header for that stream alone, in memory."""
    buf = io.BytesIO()
    try:
        with ffmpeg_logs() as logs:
            trial: Any = av.open(buf, "w", format=out.format.name)
            try:
                trial.add_stream_from_template(stream)
                trial.start_encoding()
            except (av.FFmpegError, ValueError) as e:
                return ffmpeg_reason(e, logs)
            finally:
                close_quietly(trial)
    except (av.FFmpegError, ValueError) as e:
        return str(e)
    return None


def _pick_codec(requested: str | None, source_codec: str, out: Any) -> str:
    if requested is not None:
        return str(_encoder(requested).name)
    try:
        enc = av.codec.Codec(source_codec, "w")
    except av.codec.codec.UnknownCodecError:
        return str(out.default_video_codec)
    if takes_codec(out, str(enc.canonical_name)) or enc.name in out.supported_codecs:
        return str(enc.name)
    return str(out.default_video_codec)


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


_RATE_OPTIONS = frozenset({"crf", "qp", "b", "maxrate", "bufsize", "cq", "q", "x264-params"})


def default_rate_control(codec: str, source_bit_rate: int | None) -> dict[str, str]:
    """The options :func:`open_output` adds when the caller set no quality or rate: see the
    module docs. ``source_bit_rate`` in bits per second (``None``: unknown, no cap)."""
    crf = DEFAULT_CRF.get(codec)
    if crf is None:
        return {}
    options = {"crf": str(crf)}
    if source_bit_rate:
        cap = int(source_bit_rate * MAX_RATE_FACTOR)
        options.update(maxrate=str(cap), bufsize=str(2 * cap))
    return options


def open_output(
    tmp: Path,
    dst: Path,
    video: Any,
    fmt: str,
    *,
    codec: str | None,
    quality: int | None,
    encoder_options: Mapping[str, str] | None,
    source_bit_rate: int | None = None,
    display_matrix: tuple[int, ...] | None = None,
    field_order: int = 0,
    timed: bool = True,
) -> tuple[Any, Any, EncoderPlan]:
    """Opens ``tmp`` for writing with one video stream that keeps ``video``'s size, time base,
    rate, colour tags, sample aspect ratio, ``display_matrix`` and ``field_order`` (FFmpeg's
    ``AVFieldOrder``; interlaced orders are coded as fields), encoding ``fmt``; returns the
    container, the stream and the plan. ``timed=False``: the source's frames have no pts (raw
    Annex-B), so they are timed from the rate. The caller adds any other streams, then calls
    :func:`start_encoding`."""
    icc = video.codec_context
    try:
        out: Any = av.open(str(tmp), "w")
    except ValueError as e:
        raise VideoError(
            f"{dst}: cannot tell the container format from the file name; use a known "
            "extension such as .mp4, .mkv or .mov"
        ) from e
    try:
        codec_name = _pick_codec(codec, icc.name, out)
        enc = _encoder(codec_name)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        source_tb = Fraction(video.time_base) if video.time_base else None
        retime = not timed or source_tb is None or enc.name in _RATE_TIME_BASE
        if retime and not rate:
            raise VideoError(
                f"{dst}: {codec_name} needs the frame rate, and the source has none; pass "
                "codec='libx264' (or another codec that keeps any time base)"
            )
        time_base = Fraction(1, 1) / Fraction(rate) if retime else source_tb
        assert time_base is not None
        if out.format.name in _MOV_MUXERS and time_base.denominator < 2**31:
            # MP4 stores the start of a track in the movie's time scale (1/1000 s by default):
            # in the video's own scale, a start pts like 90000 * 3 + 17 survives exactly.
            out.container_options["movie_timescale"] = str(time_base.denominator)
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
        ostream.time_base = time_base
        occ.time_base = time_base
        for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
            setattr(occ, attr, getattr(icc, attr))
        if icc.sample_aspect_ratio:
            occ.sample_aspect_ratio = icc.sample_aspect_ratio
        if field_order > _FIELD_PROGRESSIVE:
            occ.field_order = field_order
            if enc.name in _FIELD_CODING:
                occ.flags |= int(av.codec.context.Flags.interlaced_dct)
                occ.flags |= int(av.codec.context.Flags.interlaced_me)
        elif field_order == _FIELD_PROGRESSIVE:
            occ.field_order = field_order
        if display_matrix is not None:
            ostream.set_display_matrix(list(display_matrix))
        if out.format.name in _MOV_MUXERS and enc.canonical_name == "hevc":
            occ.codec_tag = "hvc1"  # Apple players open HEVC in MP4 only under this tag
        options = _check_options(occ, codec_name, encoder_options or {})
        options.update(_quality_options(occ, codec_name, quality))
        if quality is None and not _RATE_OPTIONS & options.keys():
            defaults = default_rate_control(str(enc.name), source_bit_rate)
            if defaults:
                options.update(defaults)
            elif source_bit_rate and not occ.codec.lossless:
                occ.bit_rate = source_bit_rate  # no CRF: at least the source's bit rate
        if field_order > _FIELD_PROGRESSIVE and enc.name == "libx264":
            # x264 starts top field first and writes no picture structure, so a decoder reads
            # any field-coded H.264 as top first: say the order, and write it per picture.
            first = "tff" if field_order in _FIELD_TOP_FIRST else "bff"
            params = options.get("x264-params")
            options["x264-params"] = f"{first}=1:pic-struct=1" + (f":{params}" if params else "")
        occ.options = options
    except BaseException:
        out.close()
        raise
    return out, ostream, EncoderPlan(str(codec_name), time_base, retime, fmt)


_LEVEL_LOCK = threading.Lock()
_LEVEL_USERS: list[Any] = []  # the level before the first block, once per block running


@contextlib.contextmanager
def error_level() -> Iterator[None]:
    """FFmpeg's errors reach PyAV's log handler while the block runs, in any thread.

    PyAV's level is one global, so blocks in several threads (a reader thread, an encoder
    opening in another) share it: the first one in sets ERROR, the last one out puts the
    level back. Each used to save and restore it on its own, and two interleaved blocks could
    leave it at ERROR for good. Then every FFmpeg error, from any thread, took the GIL. An
    x264 thread that logged while the garbage collector freed its encoder (holding the GIL,
    waiting for that thread) hung the process."""
    with _LEVEL_LOCK:
        _LEVEL_USERS.append(av.logging.get_level())
        if len(_LEVEL_USERS) == 1:
            av.logging.set_level(av.logging.ERROR)
    try:
        yield
    finally:
        with _LEVEL_LOCK:
            first = _LEVEL_USERS[0]
            _LEVEL_USERS.pop()
            if not _LEVEL_USERS:
                av.logging.set_level(first)


@contextlib.contextmanager
def ffmpeg_logs() -> Iterator[list[tuple[int, str, str]]]:
    """FFmpeg's error messages from this thread while the block runs (they carry the reason an
    error code hides: x264's "width not divisible by 2", a muxer's "codec not supported")."""
    with error_level(), av.logging.Capture(local=True) as logs:
        yield logs


def ffmpeg_reason(e: BaseException, logs: list[tuple[int, str, str]] | None = None) -> str:
    """The most specific text FFmpeg gave for ``e``: the library's own log line when there is
    one (``libx264: width not divisible by 2 (321x241)``), else the error's message."""
    lines = [(name, msg.strip()) for _, name, msg in (logs or []) if msg.strip()]
    log = getattr(e, "log", None)
    if not lines and log:
        lines = [(str(log[1]), str(log[2]).strip())]
    if lines:
        return "; ".join(f"{name}: {msg}" for name, msg in lines[-3:])
    return str(e)


def _advice(reason: str, width: int, height: int, fmt: str) -> str:
    if "divisible by 2" in reason or "dimensions not set" in reason:
        return (
            f": this encoder needs an even width and height for {fmt} ({width}x{height} is "
            "odd); crop or pad the source to even dimensions first (ffmpeg -vf "
            "'crop=trunc(iw/2)*2:trunc(ih/2)*2'), or choose a codec that takes odd sizes "
            "(codec='ffv1')"
        )
    if "frame rate" in reason or "framerate" in reason:
        return ": choose a codec without a fixed frame-rate table (codec='libx264')"
    return ""


def start_encoding(out: Any, dst: Path, plan: EncoderPlan, width: int, height: int) -> None:
    """Opens the encoders and writes the header now, so bad settings fail before any decoding;
    raises :class:`VideoError` with FFmpeg's reason and what to do."""
    with ffmpeg_logs() as logs:
        try:
            out.start_encoding()
        except (av.FFmpegError, ValueError) as e:
            reason = ffmpeg_reason(e, logs)
            raise VideoError(
                f"{dst}: cannot start encoding with {plan.codec}: {reason}"
                + _advice(reason, width, height, plan.pix_fmt)
            ) from e


def close_quietly(container: Any) -> None:
    # The input (nothing to lose) or an output being abandoned after a failure, whose first
    # error is the one to report.
    with contextlib.suppress(Exception):
        container.close()
