"""The status page's HTTP side: the page and its two files, and its JSON (status.py answers).

The files are read once, when the routes are built, and served from memory: only the names
found then exist, so no path a client sends ever reaches the filesystem. Each is sent with a
Content-Security-Policy that allows the page's own script and style and nothing else (no
inline script, no other origin, no framing): the page shows text that requests and servers
wrote, and a slip in how it is shown must not run as script.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.errors import BadRequestError, UnavailableError
from proxy.ui.status import LOG_BYTES, StatusPage

STATIC = Path(__file__).resolve().with_name("static")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
_HEADERS = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
_JSON_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


def build_ui_routes() -> list[Route]:
    files = {
        path.name: (path.read_bytes(), _TYPES[path.suffix])
        for path in sorted(STATIC.glob("*"))
        if path.is_file() and path.suffix in _TYPES
    }

    async def page(request: Request) -> Response:
        return _file(files, "index.html")

    async def static(request: Request) -> Response:
        return _file(files, request.path_params["name"])

    return [
        Route("/ui", page, methods=["GET"]),
        Route("/ui/", page, methods=["GET"]),
        Route("/ui/static/{name}", static, methods=["GET"]),
        Route("/ui/api/state", _state, methods=["GET"]),
        Route("/ui/api/servers/{name}/logs", _logs, methods=["GET"]),
        Route("/ui/api/servers/{name}/{action}", _act, methods=["POST"]),
    ]


def _file(files: dict[str, tuple[bytes, str]], name: str) -> Response:
    found = files.get(name)
    if found is None:
        if name == "index.html":
            raise UnavailableError(
                f"The status page's files are missing from this install ({STATIC})."
            )
        return Response("Not Found", status_code=404, media_type="text/plain")
    body, media_type = found
    return Response(body, media_type=media_type, headers=_HEADERS)


def _status(request: Request) -> StatusPage:
    page: StatusPage | None = request.app.state.proxy.ui
    if page is None:  # routes are only built when it is on; a guard for tests that mix
        raise UnavailableError("The status page is off (proxy.ui.enabled).")
    return page


async def _state(request: Request) -> JSONResponse:
    state = await _status(request).state(request.headers)
    return JSONResponse(state, headers=_JSON_HEADERS)


async def _act(request: Request) -> JSONResponse:
    params = request.path_params
    done = await _status(request).act(params["name"], params["action"], request.headers)
    return JSONResponse(done, headers=_JSON_HEADERS)


async def _logs(request: Request) -> JSONResponse:
    page = _status(request)
    page.operator.require(request.headers)  # before anything else is said to this caller
    raw = request.query_params.get("offset", str(-LOG_BYTES))
    try:
        offset = int(raw)
    except ValueError:
        raise BadRequestError(f"offset: not a whole number: {raw[:40]!r}", param="offset") from None
    if abs(offset) > 2**53:
        raise BadRequestError("offset: out of range", param="offset")
    text = await page.logs(request.path_params["name"], offset, request.headers)
    return JSONResponse(text, headers=_JSON_HEADERS)
