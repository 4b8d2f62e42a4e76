"""The three-stage pipeline every masking job runs on: reader thread -> calling thread -> writer
thread, joined by small bounded queues.

Why three threads: decoding, masking and encoding each spend nearly all their time in C with
the GIL released (PyAV wraps ``avcodec_send_packet``/``receive_frame``, ``avcodec_send_frame``
and ``av_interleaved_write_frame`` in ``nogil``; the privmask kernels detach from Python), so a
reader thread, the calling thread (the callback: masking) and a writer thread overlap on a
multi-core machine and masking adds little to a transcode's time.

A ``KeyboardInterrupt`` or ``SystemExit`` (a signal turned into one by the command line) raised
in the calling thread stops the other two stages before :meth:`Pipeline.run` re-raises it, so
the caller's cleanup runs with no thread still writing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from privmask._outputs import signals_held
from privmask.errors import VideoError

__all__ = ["QUEUE_FRAMES", "Pipeline"]

QUEUE_FRAMES = 4
"""Frames queued between two stages: enough to absorb jitter (a slow keyframe), few enough that
a 4K pipeline (12 MB a picture, a dozen in flight with the ones each stage holds) stays near
150 MB, plus the pictures a masking reader holds back until the decoder lets them go (at most
:data:`privmask.video.decode.HOLD_BYTES`)."""

_POLL_S = 0.05  # how often a blocked stage looks at the abort flag
"""Signals sent to stop or poke a process (never the synchronous faults, SIGSEGV and the like)."""
_START_WAIT_S = 5.0  # how long a stage thread may take to report running after start()


class _End:
    """End of stream, passed down the queues after the last frame."""


class _Failure:
    """An error raised in the reader thread, passed down in order to the calling thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Drain:
    """The reader failed: the writer writes what it was given so far, then stops (a pipe keeps
    the whole frames before a broken one; a file is discarded anyway)."""


_END = _End()
_DRAIN = _Drain()


class Pipeline:
    """Reader thread -> calling thread -> writer thread, joined by bounded queues.

    ``read()`` (an iterator, run on the reader thread) yields frames and pass-through items
    (audio packets); ``is_frame`` tells them apart. ``process(index, frame)`` runs on the calling
    thread for frames only. ``write(item)`` and ``finish()`` run on the writer thread; an error
    there is turned into the error to raise by ``write_error(exc, frame_index_or_None)``. Any
    stage that fails sets ``abort`` and the others stop at their next queue operation; the first
    failure is raised by :meth:`run`.
    """

    def __init__(
        self,
        read: Callable[[], Iterable[object]],
        is_frame: Callable[[object], bool],
        process: Callable[[int, Any], None],
        write: Callable[[object], None],
        finish: Callable[[], None],
        write_error: Callable[[BaseException, int | None], BaseException],
        on_frame_done: Callable[[], object] | None = None,
    ) -> None:
        self._read = read
        self._is_frame = is_frame
        self._process = process
        self._write = write
        self._finish = finish
        self._write_error = write_error
        self._on_frame_done = on_frame_done
        self.abort = threading.Event()
        self.decoded: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self.masked: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self.writer_error: BaseException | None = None
        self.frames = 0

    def _put(self, q: queue.Queue[object], item: object) -> bool:
        while not self.abort.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue[object]) -> object | None:
        while not self.abort.is_set():
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return None

    def _reader(self) -> None:
        try:
            for item in self._read():
                if self.abort.is_set() or not self._put(self.decoded, item):
                    return
        except BaseException as e:  # a bug, or memory: still reported by the calling thread
            self._put(self.decoded, _Failure(e))
        else:
            self._put(self.decoded, _END)

    def _writer(self) -> None:
        index = -1
        try:
            while True:
                item = self._get(self.masked)
                if item is None or isinstance(item, _Drain):
                    return
                if isinstance(item, _End):
                    index = -1
                    self._finish()
                    return
                if self._is_frame(item):
                    index += 1
                self._write(item)
        except BaseException as e:
            self.writer_error = self._write_error(e, index if index >= 0 else None)
            self.abort.set()

    def run(self) -> int:
        """Runs the three stages to the end of the input; returns the number of frames, raises
        the first failure."""
        reader = threading.Thread(target=self._reader, name="privmask-decode", daemon=True)
        writer = threading.Thread(target=self._writer, name="privmask-encode", daemon=True)
        launched: list[threading.Thread] = []
        finished = False
        try:
            # Inside the try: a signal turned into an exception can land while a thread is
            # starting (``Thread.start`` waits for it), and the threads already running must
            # still be stopped and joined before the caller's cleanup and interpreter exit.
            with signals_held():
                for thread in (reader, writer):
                    launched.append(thread)
                    thread.start()
            while not finished:
                item = self._get(self.decoded)
                if item is None:  # only the writer aborts while this thread waits
                    break
                if isinstance(item, _Failure):
                    if self._put(self.masked, _DRAIN):
                        writer.join()
                    raise item.error
                if not isinstance(item, _End) and self._is_frame(item):
                    self._process(self.frames, item)
                    self.frames += 1
                    if self._on_frame_done is not None:
                        self._on_frame_done()
                finished = isinstance(item, _End)
                if not self._put(self.masked, item):
                    break
            writer.join()
            if self.writer_error is not None:
                raise self.writer_error
            if not finished:
                raise VideoError("the pipeline stopped before the end of the video")
        finally:
            self.abort.set()
            for thread in launched:
                _join(thread)
        return self.frames


def _join(thread: threading.Thread) -> None:
    """Joins a thread whose ``start()`` was called, even if an exception interrupted
    ``start()`` after the system thread was created but before it reported running."""
    deadline = time.monotonic() + _START_WAIT_S
    while True:
        try:
            thread.join()
            return
        except RuntimeError:  # "cannot join thread before it is started"
            if time.monotonic() > deadline:  # start() was interrupted before the thread existed
                return
            time.sleep(0.001)
