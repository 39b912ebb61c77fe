"""HTTP routes to watch and steer streams from the browser: new prompt, word check, stop, an
input's strength, list, the live websocket, WebRTC playback (WHEP) and the standalone viewer
page; and the templates' thumbnails."""
from __future__ import annotations

import json
import os
import urllib.parse

from aiohttp import web

from ...stream_core.engine.timeline import MAX_PROMPT_CHARS
from ..comfy_nodes import served_web_folders
from . import requests
from . import webrtc
from .hub import HUB, LIVE_DEFAULTS, foreign
from .registry import STREAMS, stream_id_problem
from .requests import Refused

PACK_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # custom_nodes/<name>
WEB_DIR = os.path.join(PACK_DIR, "web")
WORKFLOWS_DIR = os.path.join(PACK_DIR, "example_workflows")
VIEW_OPTIONS = ("stream", "clean", "strength", "webrtc")   # what web/view.html reads from its query
THUMBNAIL = r"[A-Za-z0-9_\-]+\.(?:webp|jpg)"

MAX_BODY_BYTES = 16 * 1024


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _read(request: web.Request, limit: int, what: str) -> bytes | web.Response:
    """The request's body (``what``: JSON, an SDP offer), at most ``limit`` bytes, or the error to
    answer: 400 unreadable, 413 larger."""
    try:
        raw = await request.content.read(limit + 1)
    except web.RequestPayloadError:   # e.g. a body that is not what its Content-Encoding says
        return _error(400, f"the request body cannot be read (Content-Encoding: "
                           f"{request.headers.get('Content-Encoding', 'none')[:40]!r}); send plain {what}")
    if len(raw) > limit:
        return _error(413, f"request body larger than {limit} bytes (send at most {limit} bytes of {what})")
    return raw


async def _body(request: web.Request, *fields: str) -> dict | web.Response:
    """The JSON object of a POST with string ``fields``, or the error to answer. JSON only: a
    cross-site form or text/plain post cannot reach the streams."""
    if request.content_type != "application/json":
        return _error(415, f"send JSON (Content-Type: application/json), not {request.content_type or 'nothing'}")
    raw = await _read(request, MAX_BODY_BYTES, "JSON")
    if isinstance(raw, web.Response):
        return raw
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return _error(400, "request body is not valid JSON (or nested too deeply)")
    if not isinstance(body, dict):
        return _error(400, "request body must be a JSON object")
    for name in fields:
        if not isinstance(body.get(name), str):
            return _error(400, f"'{name}' (a string) is required")
    return body


def _refused(refused: Refused) -> web.Response:
    return _error(refused.status, str(refused))


async def post_prompt(request: web.Request) -> web.Response:
    body = await _body(request, "stream_id", "prompt")
    if isinstance(body, web.Response):
        return body
    try:
        return web.json_response(requests.reprompt(body["stream_id"], body["prompt"]), status=202)
    except Refused as refused:
        return _refused(refused)


async def post_check(request: web.Request) -> web.Response:
    """The words of a prompt that the stream's model does not know, before it is sent."""
    body = await _body(request, "stream_id", "prompt")
    if isinstance(body, web.Response):
        return body
    if len(body["prompt"]) > MAX_PROMPT_CHARS:
        return _error(400, f"the prompt is longer than {MAX_PROMPT_CHARS} characters")
    try:
        source = requests.session_of(body["stream_id"]).source
    except Refused as refused:
        return _refused(refused)
    return web.json_response({"accepts_text": source.accepts_text, "how_to_reprompt": source.how_to_reprompt,
                              "unknown_words": source.unknown_words(body["prompt"]) if source.accepts_text else []})


async def post_stop(request: web.Request) -> web.Response:
    body = await _body(request, "stream_id")
    if isinstance(body, web.Response):
        return body
    try:
        return web.json_response(requests.stop(body["stream_id"]), status=202)
    except Refused as refused:
        return _refused(refused)


async def post_strength(request: web.Request) -> web.Response:
    body = await _body(request, "stream_id")
    if isinstance(body, web.Response):
        return body
    try:
        return web.json_response(requests.set_strength(body["stream_id"], body.get("strength")), status=202)
    except Refused as refused:
        return _refused(refused)


async def get_streams(request: web.Request) -> web.Response:
    return web.json_response({stream_id: session.report() for stream_id, session in STREAMS.items()})


async def get_defaults(request: web.Request) -> web.Response:
    """What the browser starts from (``hub.LIVE_DEFAULTS``): the frontend's settings read it."""
    return web.json_response(LIVE_DEFAULTS)


async def get_view(request: web.Request) -> web.Response:
    """The standalone viewer (one stream, full window; for OBS or a second screen): the pack's
    ``web/view.html`` where ComfyUI serves the pack's web folder, with the query's options kept."""
    name = next((n for n, d in served_web_folders().items() if os.path.realpath(d) == os.path.realpath(WEB_DIR)),
                None)
    if name is None:
        return _error(404, "the pack's web folder is not served")
    query = urllib.parse.urlencode({k: v for k, v in request.query.items() if k in VIEW_OPTIONS})
    raise web.HTTPFound(f"/extensions/{urllib.parse.quote(name)}/view.html" + (f"?{query}" if query else ""))


async def post_whep(request: web.Request) -> web.Response:
    """WHEP: the browser's SDP offer for ``?stream=<id>`` in, the answer out (201, with the
    peer's address to DELETE in ``Location``). The stream need not run yet."""
    stream_id = request.query.get("stream", "")
    why = stream_id_problem(stream_id)
    if why is not None:
        return _error(400, f"stream: {why}")
    if foreign(request):
        return _error(403, "WebRTC playback is for pages of this server")
    if (why := webrtc.missing()) is not None:
        return _error(501, why)
    if request.content_type != "application/sdp":
        return _error(415, f"send an SDP offer (Content-Type: application/sdp), not {request.content_type or 'nothing'}")
    raw = await _read(request, webrtc.MAX_OFFER_BYTES, "SDP offer")
    if isinstance(raw, web.Response):
        return raw
    try:
        peer = await webrtc.PEERS.answer(stream_id, raw.decode("utf-8"))
    except UnicodeDecodeError:
        return _error(400, "an SDP offer is UTF-8 text")
    except RuntimeError as e:
        return _error(503, str(e))
    except ValueError as e:
        return _error(400, str(e))
    return web.Response(status=201, text=peer.pc.localDescription.sdp, content_type="application/sdp",
                        headers={"Location": f"whep/{peer.key}"})


async def delete_whep(request: web.Request) -> web.Response:
    """The end of a WebRTC viewer (its ``Location``)."""
    if not await webrtc.PEERS.close(request.match_info["key"]):
        return _error(404, "no such WebRTC viewer (it ended already)")
    return web.json_response({"closed": True})


async def get_thumbnail(request: web.Request) -> web.FileResponse:
    """A template's thumbnail, at the address ComfyUI's template browser asks for it
    (``/workflow_templates/<pack folder>/<name>.webp``). Newer ComfyUI serves only the ``.json``
    files of a pack's example_workflows/ there; older ones serve the whole folder themselves,
    before this route is reached. The route's pattern takes thumbnails only, never a workflow."""
    path = os.path.join(WORKFLOWS_DIR, request.match_info["file"])
    if not os.path.isfile(path):
        raise web.HTTPNotFound()
    return web.FileResponse(path)


POSTED = {"/streamdit/prompt": '{"stream_id", "prompt"}', "/streamdit/check": '{"stream_id", "prompt"}',
          "/streamdit/stop": '{"stream_id"}', "/streamdit/strength": '{"stream_id", "strength"}'}


async def not_a_get(request: web.Request) -> web.Response:
    """A GET of a route that takes a POST: what to send instead (not a bare 404)."""
    return web.json_response({"error": f"POST a JSON object {POSTED[request.path]} to {request.path}"}, status=405,
                             headers={"Allow": "POST"})


def register_routes(routes: web.RouteTableDef) -> None:
    routes.post("/streamdit/prompt")(post_prompt)
    routes.post("/streamdit/check")(post_check)
    routes.post("/streamdit/stop")(post_stop)
    routes.post("/streamdit/strength")(post_strength)
    for path in POSTED:
        routes.get(path)(not_a_get)
    routes.get("/streamdit/streams")(get_streams)
    routes.get("/streamdit/defaults")(get_defaults)
    routes.get("/streamdit/ws")(HUB.websocket)
    routes.get("/streamdit/view")(get_view)
    routes.post("/streamdit/whep")(post_whep)
    routes.delete("/streamdit/whep/{key}")(delete_whep)
    module = urllib.parse.quote(os.path.basename(PACK_DIR))
    routes.get(f"/workflow_templates/{module}/{{file:{THUMBNAIL}}}")(get_thumbnail)
