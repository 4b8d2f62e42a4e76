"""``privmask bench``: how fast privmask masks frames on this machine, next to its peers.

    python -m privmask.tools.bench                     # 1080p and 4K, every style (under a minute)
    python -m privmask.tools.bench --quick             # 1080p only, fewer repeats (under 15 s)
    python -m privmask.tools.bench --json report.json  # also a machine-readable report
    python -m privmask.tools.bench --formats yuv420p,nv12,rgb24 --simd sse41 --threads 2

People paste this output when they compare hardware, so it says where it ran (CPU, cores, SIMD
level, threads, versions) and measures what does not depend on the neighbours: every timing is
the median of several repeats after a warm-up, with the garbage collector paused, and the peers
take turns round by round, so a burst of load from elsewhere slows all of them alike and the
ratios survive it. Absolute times on shared machines are noisy; the ratios are the point.

What is measured, in one run:

- per style x format x resolution x coverage: privmask's median time, its throughput in
  **covered** luma megapixels per second (the work scales with the cover, not the frame), and
  the ratios to the numpy reference and to OpenCV (``yuv420p`` only; OpenCV only when installed,
  it is the optional ``privmask-video[bench]`` extra);
- the bandwidth floor: numpy ``fill`` and ``copyto`` of a buffer too large for the caches, and
  per case the time those rates need for the bytes the case touches, and privmask's multiple of
  it (targets: solid within 3x of the fill floor, mosaic and blur within 6x of the copy floor);
- fill's cost relative to mosaic on the same geometry, the two timed in the same rounds;
- compiling (rasterising) 16 polygons of 64 vertices for a 4K frame, against ``cv2.fillPoly``;
- ``apply`` on 4K with two threads against one;
- the per-call overhead of the Python boundary on small frames (CIF and 640x360, one tiny mask).

The peers follow one contract: the constructor does whatever depends only on the geometry (what
``MaskSet.compile`` does for privmask, so it is not timed), and calling the peer with a frame
masks it in place (what is timed). ``NumpyPeer`` is a reference implementation of privmask's
semantics (same output for solid and mosaic, within one level for blur); ``OpenCVPeer`` is what a
competent OpenCV user would write. Fill has no numpy peer, and no OpenCV column: OpenCV's nearest
analogue, ``cv2.inpaint`` (``InpaintPeer``), is one to two orders of magnitude slower (about a
second per 4K frame at 25 % cover), which would eat the minute; ``benches/`` times it on small
cases.

The package's modules: :mod:`~privmask.tools.bench.cases` (what is timed),
:mod:`~privmask.tools.bench.peers` (who is timed), :mod:`~privmask.tools.bench.timing` (how),
:mod:`~privmask.tools.bench.harness` (the whole run), :mod:`~privmask.tools.bench.report` and
:mod:`~privmask.tools.bench.machine` (what is printed). The command line is
:mod:`privmask.cli.bench`.
"""

from __future__ import annotations

from collections.abc import Sequence

from privmask.tools.bench.cases import (
    BENCH_FORMATS,
    COVERAGES,
    PEER_FORMAT,
    RESOLUTIONS,
    STYLES,
    Case,
    cases,
    chroma_cover,
    make_frame,
    resolution_size,
    touched_bytes,
    zone_polygons,
)
from privmask.tools.bench.harness import (
    compile_polygons,
    measure_compile,
    measure_floors,
    measure_overhead,
    measure_threads,
    run_bench,
)
from privmask.tools.bench.machine import cpu_name
from privmask.tools.bench.peers import (
    InpaintPeer,
    NumpyPeer,
    OpenCVPeer,
    Peer,
    PrivmaskPeer,
    block_px,
    cell_px,
    opencv_version,
    peers_for,
    rgb_to_yuv,
    sigma_px,
)
from privmask.tools.bench.report import BenchReport, CaseResult, format_report
from privmask.tools.bench.timing import DEFAULT, QUICK, Settings, Timing, measure

__all__ = [
    "BENCH_FORMATS",
    "COVERAGES",
    "DEFAULT",
    "PEER_FORMAT",
    "QUICK",
    "RESOLUTIONS",
    "STYLES",
    "BenchReport",
    "Case",
    "CaseResult",
    "InpaintPeer",
    "NumpyPeer",
    "OpenCVPeer",
    "Peer",
    "PrivmaskPeer",
    "Settings",
    "Timing",
    "block_px",
    "cases",
    "cell_px",
    "chroma_cover",
    "compile_polygons",
    "cpu_name",
    "format_report",
    "main",
    "make_frame",
    "measure",
    "measure_compile",
    "measure_floors",
    "measure_overhead",
    "measure_threads",
    "opencv_version",
    "peers_for",
    "resolution_size",
    "rgb_to_yuv",
    "run_bench",
    "sigma_px",
    "touched_bytes",
    "zone_polygons",
]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m privmask.tools.bench``: the same as ``privmask bench`` (see
    :func:`privmask.cli.bench.main`); returns the exit status."""
    from privmask.cli.bench import main as run_main

    return run_main(argv)
