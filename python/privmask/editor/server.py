"""The editor's local web server: Starlette routes served by uvicorn on 127.0.0.1 only.

Safety, since the page can read the camera picture and write the mask file:

- it listens on the loopback interface only, and every request must start with a random token
  (``http://127.0.0.1:PORT/TOKEN/``; 403 otherwise), compared in constant time; the ``Host``
  header must name the loopback address too, so a web page that rebinds its DNS name to
  127.0.0.1 cannot talk to it either;
- it serves the page's own assets (a fixed list shipped inside the package) and the pictures and
  masks of the source and mask file it was started with: no path from a request is ever opened;
- request bodies are limited (:data:`MAX_BODY_BYTES`, 413 past it), and headers by uvicorn;
- responses forbid framing, sniffing, referrers and any script or style not from the page
  itself (Content-Security-Policy), so nothing loads from the network: it works offline.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable
from fractions import Fraction
from importlib import resources
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from privmask.editor.files import ChangedOnDiskError
from privmask.editor.session import Rendered, Session
from privmask.errors import InvalidGeometryError, MaskConfigError, VideoError

__all__ = ["ASSETS", "MAX_BODY_BYTES", "EditorServer", "build_app"]

MAX_BODY_BYTES = 2 * 1024 * 1024
"""The largest request body accepted (mask sets, imports): a 1000-mask set is ~200 kB."""

ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "editor.css": "text/css; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "model.js": "text/javascript; charset=utf-8",
    "canvas.js": "text/javascript; charset=utf-8",
    "panel.js": "text/javascript; charset=utf-8",
    "main.js": "text/javascript; charset=utf-8",
}
"""The page's files (in ``privmask/editor/static/``), the only files the server sends."""

_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        b"connect-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class Gate:
    """ASGI middleware: refuses requests without the token prefix or with a foreign ``Host``,
    strips the prefix for the routes, and adds the security headers to every response."""

    def __init__(self, app: ASGIApp, token: str, hosts: frozenset[str]) -> None:
        self.app = app
        self.prefix = f"/{token}"
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: none offered

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        path: str = scope["path"]
        head, _, rest = path[1:].partition("/")
        token_ok = secrets.compare_digest(f"/{head}".encode(), self.prefix.encode())
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        if not token_ok or host not in self.hosts:
            why = "unknown host" if token_ok else "this address needs the editor's token"
            await PlainTextResponse(f"403 forbidden: {why}", 403)(scope, receive, secured)
            return
        if path == self.prefix:
            response = Response(status_code=307, headers={"location": f"{self.prefix}/"})
            await response(scope, receive, secured)
            return
        inner = dict(scope, path=f"/{rest}", raw_path=f"/{rest}".encode(), root_path="")
        await self.app(inner, receive, secured)


def _assets() -> dict[str, bytes]:
    folder = resources.files("privmask.editor").joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in ASSETS}


async def _json_body(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HTTPException(400, f"the request body is not JSON: {e}") from None


def _time(request: Request) -> Fraction | None:
    text = request.query_params.get("t")
    if text is None or text == "":
        return None
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise HTTPException(400, f"t must be a number of seconds, got {text!r}") from None


def _png(r: Rendered) -> Response:
    return Response(r.png, media_type="image/png", headers=r.headers())


def build_app(session: Session, token: str, port: int) -> ASGIApp:
    """The editor's ASGI application for ``session``, answering only under ``/token/`` and only
    to ``Host: 127.0.0.1:port`` (or ``localhost:port``)."""
    assets = _assets()
    lock = threading.Lock()  # one picture operation at a time: the decoder is not re-entrant

    def blocking(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        def locked() -> Any:
            with lock:
                return fn(*args, **kwargs)

        return run_in_threadpool(locked)

    async def index(request: Request) -> Response:
        return Response(assets["index.html"], media_type=ASSETS["index.html"])

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise HTTPException(404, "no such asset")
        return Response(assets[name], media_type=ASSETS[name])

    async def state(request: Request) -> Response:
        return JSONResponse(await blocking(session.state))

    async def frame(request: Request) -> Response:
        refresh = request.query_params.get("refresh") == "1"
        return _png(await blocking(session.frame, _time(request), refresh=refresh))

    async def preview(request: Request) -> Response:
        view = request.query_params.get("view", "masked")
        if view not in ("masked", "lifted"):
            raise HTTPException(400, "view must be masked or lifted")
        doc = await _json_body(request)
        return _png(await blocking(session.preview, _time(request), doc, lifted=view == "lifted"))

    async def check(request: Request) -> Response:
        return JSONResponse(await blocking(session.check, await _json_body(request)))

    async def save(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise HTTPException(400, "expected {masks: ..., since: ...}")
        return JSONResponse(await blocking(session.save, body.get("masks"), body.get("since")))

    async def reopen(request: Request) -> Response:
        return JSONResponse(await blocking(session.reopen))

    async def grid(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise HTTPException(400, "expected {cells, grid, template}")
        args = (body.get("cells"), body.get("grid"), body.get("template"))
        return JSONResponse(await blocking(session.grid, *args))

    async def import_(request: Request) -> Response:
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "the imported text is not UTF-8") from None
        fmt = request.path_params["fmt"]
        return JSONResponse(await blocking(session.import_text, fmt, text))

    async def export(request: Request) -> Response:
        doc = await _json_body(request)
        return JSONResponse(await blocking(session.export_text, request.path_params["fmt"], doc))

    async def unprocessable(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, 422)

    async def conflict(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, 409)

    async def unreadable(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, 502)

    async def missing(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, 409)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, exc.status_code)

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/state", state),
        Route("/api/frame", frame),
        Route("/api/preview", preview, methods=["POST"]),
        Route("/api/check", check, methods=["POST"]),
        Route("/api/save", save, methods=["POST"]),
        Route("/api/reopen", reopen, methods=["POST"]),
        Route("/api/grid", grid, methods=["POST"]),
        Route("/api/import/{fmt}", import_, methods=["POST"]),
        Route("/api/export/{fmt}", export, methods=["POST"]),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        MaskConfigError: unprocessable,
        InvalidGeometryError: unprocessable,
        ValueError: unprocessable,
        ChangedOnDiskError: conflict,
        VideoError: unreadable,
        FileNotFoundError: missing,
        HTTPException: http_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, max_body_size=MAX_BODY_BYTES)
    hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
    return Gate(app, token, hosts)


class EditorServer:
    """Runs the editor for ``session`` on ``127.0.0.1:port`` (0: any free port).

    ``url`` is the page's address, token included. :meth:`run` serves until interrupted;
    :meth:`start` serves from a background thread (tests, notebooks) until :meth:`stop`.
    """

    def __init__(self, session: Session, *, port: int = 0, token: str | None = None) -> None:
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind(("127.0.0.1", port))
            # listening from here on: a browser opened on the printed address before the server
            # loop runs waits in the backlog instead of being refused
            self._sock.listen(128)
        except OSError:
            self._sock.close()
            raise
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/{self.token}/"
        config = uvicorn.Config(
            build_app(session, self.token, self.port),
            log_level="warning",
            access_log=False,
            limit_concurrency=64,
            timeout_keep_alive=5,
            h11_max_incomplete_event_size=64 * 1024,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serves in this thread until interrupted (Ctrl+C) or :meth:`stop`."""
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._sock.close()

    def start(self) -> str:
        """Serves from a background thread; returns :attr:`url` once the server listens."""
        self._thread = threading.Thread(target=self.run, name="privmask-editor", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the editor server stopped while starting")
            self._thread.join(0.02)
        return self.url

    def stop(self) -> None:
        """Stops serving and waits for the server thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
