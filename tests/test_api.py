"""The public API: value types, JSON, frames (numpy and real PyAV-decoded video), errors."""

from __future__ import annotations

import io
import json
import math
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import privmask as pm
from privmask.masks.schema import json_schema

ROOT = Path(__file__).resolve().parent.parent


def test_errors_subclass_the_builtins_callers_already_catch() -> None:
    assert issubclass(pm.InvalidGeometryError, ValueError)
    assert issubclass(pm.FrameFormatError, ValueError)
    assert issubclass(pm.MaskConfigError, ValueError)
    assert issubclass(pm.LiftDeniedError, PermissionError)
    for cls in (pm.InvalidGeometryError, pm.FrameFormatError, pm.MaskConfigError):
        assert issubclass(cls, pm.PrivmaskError)
    assert issubclass(pm.AuditIntegrityError, pm.PrivmaskError)


# --- geometry -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(0, 0), (math.nan, 1), (1, 1)], "finite"),
        ([(0, 0), (math.inf, 1), (1, 1)], "finite"),
        ([(0, 0), (1, 1), (0, 0), (1, 1)], "3 distinct"),
        ([(0, 0), (0.5, 0.5), (1, 1)], "zero area"),
        ([(0, 0), (1,), (1, 1)], "pair of numbers"),
        ([(0, 0), ("a", 1), (1, 1)], "pair of numbers"),
    ],
)
def test_bad_polygons_raise_invalid_geometry(points: list[object], message: str) -> None:
    with pytest.raises(pm.InvalidGeometryError, match=message):
        pm.Polygon(points)  # type: ignore[arg-type]


def test_rect_and_huge_or_outside_polygons() -> None:
    r = pm.Polygon.rect(0.25, 0.25, 0.5, 0.5)
    assert r.points == ((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75))
    with pytest.raises(pm.InvalidGeometryError, match="positive"):
        pm.Polygon.rect(0, 0, 0, 1)
    with pytest.raises(pm.InvalidGeometryError, match="finite"):
        pm.Polygon.rect(0, math.nan, 1, 1)
    huge = pm.Polygon([(-1e300, -1e300), (1e300, -1e300), (0.5, 1e300)])
    assert pm.coverage(pm.MaskSet([pm.Mask(huge)]), 5, 3).all()
    outside = pm.Polygon([(2, 2), (3, 2), (3, 3)])
    assert not pm.coverage(pm.MaskSet([pm.Mask(outside)]), 5, 3).any()


# --- styles -------------------------------------------------------------------------------


def test_styles_validate_and_report_their_grade() -> None:
    assert pm.Solid().grade is pm.Grade.ANONYMISING
    assert pm.Mosaic(block_px=16).grade is pm.Grade.BOUNDED
    assert pm.Blur(sigma_px=8).grade is pm.Grade.BOUNDED
    assert pm.Solid("#FF8000").color == (255, 128, 0)
    assert pm.Solid((1, 2, 3)).color == (1, 2, 3)
    assert pm.Solid(yuv=(16, 128, 128)).yuv == (16, 128, 128)
    assert pm.Mosaic().block == 0.02 and pm.Blur().sigma == 0.01


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: pm.Mosaic(block_px=1), "at least 2"),
        (lambda: pm.Mosaic(block=0.02, block_px=16), "not both"),
        (lambda: pm.Mosaic(block=0), r"\(0, 1\]"),
        (lambda: pm.Mosaic(block=math.nan), r"\(0, 1\]"),
        (lambda: pm.Blur(sigma_px=0.5), "at least 1"),
        (lambda: pm.Blur(sigma=0.1, sigma_px=3), "not both"),
        (lambda: pm.Blur(sigma="big"), "number"),
        (lambda: pm.Solid("red"), "#rrggbb"),
        (lambda: pm.Solid((256, 0, 0)), "0-255"),
        (lambda: pm.Solid("#000000", yuv=(16, 128, 128)), "not both"),
    ],
)
def test_bad_style_parameters_raise_mask_config(make: object, message: str) -> None:
    with pytest.raises(pm.MaskConfigError, match=message):
        make()  # type: ignore[operator]


def test_relative_sizes_scale_with_the_frame_height() -> None:
    poly = pm.Polygon.rect(0, 0, 1, 1)
    rel = pm.MaskSet([pm.Mask(poly, pm.Mosaic(block=0.25))])
    px = pm.MaskSet([pm.Mask(poly, pm.Mosaic(block_px=4))])
    rng = np.random.default_rng(1)
    planes = [rng.integers(0, 256, (16, 16), dtype=np.uint8)]
    a, b = pm.Frame("gray", [planes[0].copy()]), pm.Frame("gray", [planes[0].copy()])
    pm.apply(a, rel)
    pm.apply(b, px)
    np.testing.assert_array_equal(a.planes[0], b.planes[0])
    assert len(np.unique(a.planes[0][:4, :4])) == 1


def test_rgb_colours_convert_with_the_frame_matrix_and_range() -> None:
    ms = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 1, 1), pm.Solid("#ff0000"))])
    sd = pm.Frame.blank("yuv420p", 4, 4)
    pm.apply(sd, ms)
    assert (sd.planes[0][0, 0], sd.planes[1][0, 0], sd.planes[2][0, 0]) == (81, 90, 240)
    hd = pm.Frame.blank("yuv420p", 4, 720)
    pm.apply(hd, ms)
    assert (hd.planes[0][0, 0], hd.planes[1][0, 0], hd.planes[2][0, 0]) == (63, 102, 240)
    full = pm.Frame.blank("yuvj420p", 4, 4)
    pm.apply(full, ms)
    assert full.planes[0][0, 0] == 76  # 0.299 * 255, full range
    told = pm.Frame("yuv420p", [p.copy() for p in sd.planes], matrix="bt709", full_range=False)
    pm.apply(told, ms)
    assert told.planes[0][0, 0] == 63


# --- mask sets and JSON ---------------------------------------------------------------------


def _sample_set() -> pm.MaskSet:
    return pm.MaskSet(
        [
            pm.Mask(pm.Polygon.rect(0.1, 0.1, 0.2, 0.2), pm.Solid("#102030"), name="window"),
            pm.Mask(pm.Polygon([(0, 0), (0.5, 0), (0.2, 0.4)]), pm.Mosaic(block_px=8), True),
            pm.Mask(pm.Polygon.rect(0.5, 0.5, 0.3, 0.3), pm.Blur(sigma=0.02)),
            pm.Mask(pm.Polygon.rect(0.6, 0.1, 0.1, 0.1), pm.Solid(yuv=(16, 128, 128))),
            pm.Mask(pm.Polygon.rect(0.0, 0.7, 0.2, 0.2), pm.Fill()),
            pm.Mask(pm.Polygon.rect(0.3, 0.7, 0.2, 0.2), pm.Fill("#ff00ff"), True),
        ]
    )


def test_json_round_trip_hash_and_pickle() -> None:
    ms = _sample_set()
    text = ms.to_json()
    assert json.loads(text)["privmask"] == 1
    again = pm.MaskSet.from_json(text)
    assert again == ms
    assert again.content_hash == ms.content_hash
    assert len(ms.content_hash) == 64
    assert pickle.loads(pickle.dumps(ms)) == ms
    changed = pm.MaskSet([*ms.masks[:-1], pm.Mask(pm.Polygon.rect(0.6, 0.1, 0.1, 0.2))])
    assert changed.content_hash != ms.content_hash


def test_hash_and_scene_flag_are_rebuilt_in_another_process() -> None:
    """The set keeps its hash (string hashes are salted per process) and scene-locked flag for
    speed; a copy unpickled in a worker must work them out again, not carry the parent's."""
    scene = pm.Mask(pm.ScenePolygon([(-10, -5), (10, -5), (10, 5), (-10, 5)]))
    ms = pm.MaskSet([*_sample_set().masks, scene])
    code = (
        "import pickle, sys; ms = pickle.loads(sys.stdin.buffer.read()); "
        "print(hash(ms) == hash(ms.masks), ms.scene_locked)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(ms), capture_output=True, check=True
    )
    assert out.stdout.split() == [b"True", b"True"]
    assert hash(ms) == hash(ms.masks) and ms.scene_locked
    assert not _sample_set().scene_locked


@pytest.mark.parametrize(
    ("doc", "error", "message"),
    [
        ("{not json", pm.MaskConfigError, "not valid JSON"),
        ('{"privmask": 2, "masks": []}', pm.MaskConfigError, "^privmask: schema version 2"),
        ('{"masks": []}', pm.MaskConfigError, "^privmask: "),
        (
            '{"privmask": 1, "masks": [{"polygon": [[0, 0], [1, 1]]}]}',
            pm.MaskConfigError,
            r"^masks\[0\]\.polygon: ",
        ),
        (
            '{"privmask": 1, "masks": [{"polygon": [[0, 0], [1, 0], [0, NaN]]}]}',
            pm.MaskConfigError,
            r"^masks\[0\]\.polygon\[2\]\[1\]: ",
        ),
        (
            '{"privmask": 1, "masks": [{"polygon": [[0,0],[1,0],[0,1]], '
            '"style": {"type": "mosaic", "block_px": 1}}]}',
            pm.MaskConfigError,
            r"^masks\[0\]\.style\.block_px: ",
        ),
        (
            '{"privmask": 1, "masks": [{"polygon": [[0,0],[1,0],[0,1]], '
            '"style": {"type": "glitter"}}]}',
            pm.MaskConfigError,
            r"^masks\[0\]\.style: ",
        ),
        (
            '{"privmask": 1, "masks": [{"polygon": [[0,0],[1,0],[0,1]], "colour": 1}]}',
            pm.MaskConfigError,
            r"^masks\[0\]\.colour: ",
        ),
        (
            '{"privmask": 1, "masks": [{"polygon": [[0,0],[1,0],[0,1]], '
            '"style": {"type": "mosaic", "block": 0.1, "block_px": 8}}]}',
            pm.MaskConfigError,
            r"^masks\[0\]\.style: .*not both",
        ),
        (
            '{"privmask": 1, "masks": [{"polygon": [[0,0],[1,0],[0,1]]}, '
            '{"polygon": [[0,0],[0.5,0.5],[1,1]]}]}',
            pm.InvalidGeometryError,
            r"^masks\[1\]\.polygon: .*zero area",
        ),
    ],
)
def test_bad_json_names_the_field(doc: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        pm.MaskSet.from_json(doc)


def test_published_json_schema_is_current() -> None:
    published = json.loads((ROOT / "schema" / "maskset.schema.json").read_text())
    assert published == json_schema(), "run `make schema` to regenerate schema/"


def test_compile_is_cached_by_content_and_geometry() -> None:
    ms = _sample_set()
    a = ms.compile(64, 48, "yuv420p")
    assert ms.compile(64, 48, "yuv420p") is a
    assert pm.MaskSet.from_json(ms.to_json()).compile(64, 48, "yuv420p") is a
    assert ms.compile(64, 48, "nv12") is not a
    assert (a.width, a.height, a.format, len(a)) == (64, 48, "yuv420p", 6)


# --- frames -------------------------------------------------------------------------------


def test_frame_wraps_planes_without_copying() -> None:
    buf = np.zeros((6, 16), dtype=np.uint8)
    y = buf[:, :10]
    f = pm.Frame("gray", [y])
    assert f.planes[0].base is not None and np.shares_memory(f.planes[0], buf)
    pm.apply(f, pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 1, 1), pm.Solid(yuv=(7, 0, 0)))]))
    assert (buf[:, :10] == 7).all() and (buf[:, 10:] == 0).all()


@pytest.mark.parametrize(
    ("fmt", "planes", "message"),
    [
        ("rgb48", [np.zeros((2, 2), np.uint8)], "unsupported pixel format"),
        ("gray", [np.zeros((2, 2), np.uint16)], "dtype uint16"),
        ("gray", [np.zeros((2, 2, 1), np.uint8)], "3 dimensions"),
        ("gray", [np.zeros((4, 4), np.uint8)[:, ::2]], "sample stride"),
        ("gray", [np.zeros((4, 4), np.uint8)[::-1]], "run backwards"),
        ("yuv420p", [np.zeros((4, 4), np.uint8)] * 2, "3 planes"),
        (
            "yuv420p",
            [np.zeros((5, 5), np.uint8), np.zeros((2, 3), np.uint8), np.zeros((3, 3), np.uint8)],
            "shape",
        ),
        ("nv12", [np.zeros((4, 4), np.uint8), np.zeros((2, 2), np.uint8)], r"\(2, 4\)"),
        ("gray", [[[0, 0], [0, 0]]], "numpy array"),
        ("gray", [], "needs planes"),
    ],
)
def test_bad_frames_raise_frame_format(fmt: str, planes: list[object], message: str) -> None:
    with pytest.raises(pm.FrameFormatError, match=message):
        pm.Frame(fmt, planes)  # type: ignore[arg-type]


def test_swapped_frame_arguments_get_a_short_message() -> None:
    planes = [np.zeros((4, 4), np.uint8)]
    with pytest.raises(
        pm.FrameFormatError, match=r"unsupported pixel format a list; the format is"
    ) as e:
        pm.Frame(planes, "gray")  # type: ignore[arg-type]
    assert len(str(e.value)) < 200
    with pytest.raises(pm.FrameFormatError, match="'rgb48'"):
        pm.engine.frame.plane_shapes("rgb48", 4, 4)


def test_read_only_planes_are_refused() -> None:
    p = np.zeros((2, 2), np.uint8)
    p.flags.writeable = False
    with pytest.raises(pm.FrameFormatError, match="read-only"):
        pm.Frame("gray", [p])


def test_apply_refuses_other_targets_and_masks() -> None:
    with pytest.raises(pm.FrameFormatError, match=r"Frame or an av\.VideoFrame"):
        pm.apply(np.zeros((4, 4), np.uint8), _sample_set())
    with pytest.raises(TypeError, match="MaskSet or CompiledMasks"):
        pm.apply(pm.Frame.blank("gray", 4, 4), [pm.Mask(pm.Polygon.rect(0, 0, 1, 1))])  # type: ignore[arg-type]


def test_coverage_is_a_bool_image_and_respects_lifted() -> None:
    ms = _sample_set()
    cov = pm.coverage(ms, 40, 30)
    assert cov.shape == (30, 40) and cov.dtype == np.bool_
    lifted = pm.coverage(ms, 40, 30, lifted=True)
    assert lifted.sum() < cov.sum() and not (lifted & ~cov).any()


def test_exclusion_map_is_the_permanent_cover() -> None:
    ms = _sample_set()
    permanent = pm.MaskSet([m for m in ms if not m.liftable])
    np.testing.assert_array_equal(ms.exclusion_map(40, 30), pm.coverage(permanent, 40, 30))
    assert ms.exclusion_map(40, 30).sum() < pm.coverage(ms, 40, 30).sum()


def test_compiled_masks_are_shared_across_threads() -> None:
    ms = _sample_set()
    compiled = ms.compile(320, 240, "yuv420p")
    rng = np.random.default_rng(5)
    base = pm.Frame(
        "yuv420p",
        [
            rng.integers(0, 256, s, dtype=np.uint8)
            for s in pm.engine.frame.plane_shapes("yuv420p", 320, 240)
        ],
    )
    want = base.copy()
    pm.apply(want, compiled)
    frames = [base.copy() for _ in range(16)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda f: pm.apply(f, compiled), frames))
    for f in frames:
        for a, b in zip(f.planes, want.planes, strict=True):
            np.testing.assert_array_equal(a, b)


# --- real video through PyAV --------------------------------------------------------------


def _encoded_clip(fmt: str = "yuv420p", n: int = 6) -> bytes:
    av = pytest.importorskip("av")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, fmt
        rng = np.random.default_rng(2)
        for i in range(n):
            rgb = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def test_decoded_pyav_frames_are_masked_in_place() -> None:
    av = pytest.importorskip("av")
    ms = _sample_set()
    with av.open(io.BytesIO(_encoded_clip())) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 6
    for vf in frames:
        planes = [np.array(p, copy=True) for p in pm.Frame.from_av(vf).planes]
        expected = pm.Frame("yuv420p", planes)
        pm.apply(expected, ms)
        pm.apply(vf, ms)  # straight into the decoder's buffers
        got = pm.Frame.from_av(vf)
        for a, b in zip(got.planes, expected.planes, strict=True):
            np.testing.assert_array_equal(a, b)
        # And PyAV sees the change: its own export of the luma plane matches.
        np.testing.assert_array_equal(vf.to_ndarray()[:64], expected.planes[0])


def test_from_av_reads_colour_tags_and_refuses_unsupported_formats() -> None:
    av = pytest.importorskip("av")
    rgb = np.zeros((8, 8, 3), np.uint8)
    tagged = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace="ITU709"
    )
    f = pm.Frame.from_av(tagged)
    assert f.matrix == "bt709"
    rgba = np.zeros((8, 8, 4), np.uint8)
    with pytest.raises(pm.FrameFormatError, match="reformat"):
        pm.Frame.from_av(av.VideoFrame.from_ndarray(rgba, format="rgba"))
    nv = av.VideoFrame(10, 6, "nv12")
    f = pm.Frame.from_av(nv)
    assert [p.shape for p in f.planes] == [(6, 10), (3, 10)]
    assert Fraction(1, 2) == Fraction(f.planes[1].shape[0], f.height)


@pytest.mark.parametrize("fmt", ["yuv420p10le", "p010le", "rgb24", "bgr24", "nv12", "yuv422p"])
def test_pyav_frames_of_every_layout_mask_like_numpy_planes(fmt: str) -> None:
    av = pytest.importorskip("av")
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (34, 50, 3), dtype=np.uint8)
    vf = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)
    ms = _sample_set()
    expected = pm.Frame(fmt, [np.array(p, copy=True) for p in pm.Frame.from_av(vf).planes])
    pm.apply(expected, ms)
    pm.apply(vf, ms)
    for a, b in zip(pm.Frame.from_av(vf).planes, expected.planes, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(vf.to_ndarray(format="rgb24"), rgb)


def test_packed_rgb_gets_rgb_colours_and_ten_bit_gets_full_depth() -> None:
    red = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 1, 1), pm.Solid("#ff0000"))])
    rgb = pm.Frame.blank("rgb24", 3, 2)
    pm.apply(rgb, red)
    assert rgb.planes[0][0, :3].tolist() == [255, 0, 0]
    bgr = pm.Frame.blank("bgr24", 3, 2)
    pm.apply(bgr, red)
    assert bgr.planes[0][0, :3].tolist() == [0, 0, 255]
    ten = pm.Frame.blank("yuv420p10le", 4, 4)
    pm.apply(ten, red)
    # BT.601 limited red at 10 bits: Y = (16 + 219 * 0.299) * 4 = 325.9 -> 326.
    assert ten.planes[0][0, 0] == 326 and ten.planes[2][0, 0] == 960
    p010 = pm.Frame.blank("p010le", 4, 4)
    pm.apply(p010, red)
    assert p010.planes[0][0, 0] == 326 << 6
    assert pm.Solid("#ff0000").samples("yuv420p10le") == (326, 361, 960)


@pytest.mark.parametrize(
    "style",
    [pm.Solid("#204060"), pm.Mosaic(block_px=6), pm.Blur(sigma_px=5), pm.Fill("#ff0000")],
    ids=["solid", "mosaic", "blur", "fill"],
)
@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10le", "nv12", "rgb24", "p010le"])
def test_threads_give_the_same_output_as_one_thread(style: pm.Style, fmt: str) -> None:
    # Large enough (720p, most of it covered) that the bands really go to several threads.
    rng = np.random.default_rng(11)
    shapes = pm.engine.frame.plane_shapes(fmt, 1280, 720)
    dtype = pm.engine.frame.sample_dtype(fmt)
    top = 1023 if dtype == np.uint16 else 255
    shift = 6 if fmt == "p010le" else 0
    base = pm.Frame(fmt, [(rng.integers(0, top + 1, s) << shift).astype(dtype) for s in shapes])
    ms = pm.MaskSet(
        [
            pm.Mask(pm.Polygon([(0.02, 0.05), (0.9, 0.1), (0.7, 0.97), (0.1, 0.8)]), style),
            pm.Mask(pm.Polygon.rect(0.5, 0.0, 0.5, 0.5), pm.Mosaic(block=0.03)),
        ]
    )
    before = pm.threads()
    try:
        pm.set_threads(1)
        one = base.copy()
        pm.apply(one, ms)
        pm.set_threads(2)
        assert pm.threads() == 2
        two = base.copy()
        pm.apply(two, ms)
        kept = base.copy()  # two threads available, but this call keeps to its own
        compiled = ms.compile(kept.width, kept.height, kept.format)
        compiled.apply_planes(list(kept.planes), parallel=False)
    finally:
        pm.set_threads(before)
    for a, b, c in zip(one.planes, two.planes, kept.planes, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "style",
    [pm.Blur(sigma_px=8), pm.Fill(), pm.Mosaic(block_px=16)],
    ids=["blur", "fill", "mosaic"],
)
def test_apply_from_several_python_threads_at_once(style: pm.Style) -> None:
    """apply releases the GIL, so calls from several Python threads share the pool: a worker
    that waits inside one call may run part of another. Every call must still give exactly the
    one-thread result (this once failed with 'RefCell already borrowed')."""
    rng = np.random.default_rng(5)
    shapes = pm.engine.frame.plane_shapes("yuv420p", 1280, 720)
    base = pm.Frame("yuv420p", [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes])
    ms = pm.MaskSet(
        [
            pm.Mask(pm.Polygon.rect(0.05, 0.05, 0.9, 0.9), style),
            pm.Mask(pm.Polygon([(0.5, 0.1), (0.9, 0.5), (0.5, 0.9), (0.1, 0.5)]), style),
        ]
    )
    before = pm.threads()
    try:
        pm.set_threads(1)
        want = base.copy()
        pm.apply(want, ms)
        pm.set_threads(4)

        def work(_: int) -> bool:
            ok = True
            for _ in range(6):
                got = base.copy()
                pm.apply(got, ms)
                ok &= all(
                    np.array_equal(a, b) for a, b in zip(got.planes, want.planes, strict=True)
                )
            return ok

        with ThreadPoolExecutor(4) as pool:
            assert all(pool.map(work, range(4)))
    finally:
        pm.set_threads(before)


def test_set_threads_rejects_nonsense() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(pm.SettingsError, match="thread count must be an integer from 1"):
            pm.set_threads(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["yuv420p", "nv12", "rgb24"])
def test_every_simd_level_gives_the_scalar_output(fmt: str) -> None:
    from privmask import _native

    rng = np.random.default_rng(5)
    shapes = pm.engine.frame.plane_shapes(fmt, 333, 201)
    base = pm.Frame(fmt, [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes])
    ms = pm.MaskSet(
        [
            pm.Mask(pm.Polygon([(0.1, 0.1), (0.9, 0.2), (0.6, 0.9)]), pm.Blur(sigma_px=3)),
            pm.Mask(pm.Polygon.rect(0.3, 0.3, 0.5, 0.6), pm.Mosaic(block_px=5)),
            pm.Mask(pm.Polygon.rect(0.0, 0.5, 0.4, 0.5), pm.Blur(sigma_px=9)),
        ]
    )
    before = _native.simd_level()
    outputs = {}
    try:
        for level in _native.simd_levels():
            _native.set_simd_level(level)
            f = base.copy()
            pm.apply(f, ms)
            outputs[level] = f
    finally:
        _native.set_simd_level(before)
    for level, f in outputs.items():
        for a, b in zip(f.planes, outputs["scalar"].planes, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=level)
    with pytest.raises(pm.MaskConfigError, match="unknown SIMD level"):
        _native.set_simd_level("mmx")


def test_masks_written_in_pixels_are_refused_with_a_hint(tmp_path: Path) -> None:
    """A mask in pixel coordinates lies outside [0, 1]^2 and would cover nothing: refused before
    any sample is written, with the fix in the message; allow_outside=True says it is meant."""
    pixels = pm.MaskSet(
        [
            pm.Mask(pm.Polygon.rect(0.1, 0.1, 0.2, 0.2), name="ok"),
            pm.Mask(pm.Polygon([(100, 50), (300, 50), (300, 200), (100, 200)]), name="door"),
        ]
    )
    frame = pm.Frame.blank("yuv420p", 64, 48)
    before = [p.copy() for p in frame.planes]
    with pytest.raises(pm.InvalidGeometryError, match=r"masks\[1\] \(door\).*normalised"):
        pm.apply(frame, pixels)
    assert all(np.array_equal(a, b) for a, b in zip(before, frame.planes, strict=True))
    pm.apply(frame, pixels, allow_outside=True)  # intended: only the first mask shows
    assert not np.array_equal(before[0], frame.planes[0])
    # A sliver inside the frame is not "outside": it covers a pixel at every size.
    sliver = pm.MaskSet([pm.Mask(pm.Polygon([(-1, -1), (1e-9, -1), (1e-9, 1e-9)]))])
    pm.apply(pm.Frame.blank("gray", 4096, 2160), sliver)
    # Touching the frame only along its edge covers nothing, and is refused.
    edge = pm.MaskSet([pm.Mask(pm.Polygon([(-1, 0), (0, 0), (0, 1), (-1, 1)]))])
    with pytest.raises(pm.InvalidGeometryError, match="covers no pixel"):
        pm.apply(pm.Frame.blank("gray", 8, 8), edge)
    with pytest.raises(pm.MaskConfigError, match="allow_outside must be True or False"):
        pm.apply(frame, pixels, allow_outside="yes")  # type: ignore[arg-type]


def test_apply_takes_only_real_booleans_and_writes_nothing_on_a_bad_region() -> None:
    """``lifted="false"`` is truthy; a region the rasteriser refuses must not leave the static
    masks half-applied."""
    ms = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5), liftable=True)])
    frame = pm.Frame.blank("yuv420p", 32, 32)
    before = [p.copy() for p in frame.planes]
    with pytest.raises(pm.MaskConfigError, match="lifted must be True or False"):
        pm.apply(frame, ms, lifted="false")  # type: ignore[arg-type]
    with pytest.raises(pm.MaskConfigError):
        pm.apply(frame, ms, regions=["not a region"])  # type: ignore[list-item]
    assert all(np.array_equal(a, b) for a, b in zip(before, frame.planes, strict=True))
