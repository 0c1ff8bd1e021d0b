"""The review web app: FastAPI routes over one scored file and its labels file, and the page (page.html, no build).

    GET  /                 the page
    GET  /api/queue        the solutions in review order, the labels so far, the order rule
    GET  /api/changes      ?since=SEQ: labels changed since (another tab, another server on the same file)
    POST /api/action       {id, kind, changes, client}: label / accept / undo / note; answered once the row is on disk
    GET  /api/export       the latest labels, one row per solution (JSONL download)

Every error is one line of JSON, {"error": {"type", "message"}}, with a 4xx status. A scored or labels file that
cannot be used does not stop the server: the page shows the message (and the terminal), every route refuses to
label, and nothing is written.
"""

from __future__ import annotations

import hmac
import json
import socket
import sys
from importlib import resources
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from genprm.errors import GenPRMError
from genprm.labels import MARKS, MAX_NOTE_CHARS, LabelLog
from genprm.review.queue import RULE, ordered
from genprm.review.review_config import ReviewConfig


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: int
    field: Literal["mark", "note"] = "mark"
    value: str | None = None
    expect: str | None = None  # given: apply only if the step still holds this (undo after another tab's edit)


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    kind: Literal["label", "accept", "undo", "note"]
    changes: list[Change] = Field(max_length=1000)
    client: str = Field(default="", max_length=100)


class ReviewError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, " ".join(message.split())


class Review:
    """The loaded review: the queue and the label log; or, when the inputs are bad, the message saying why."""

    def __init__(self, config: ReviewConfig) -> None:
        from genprm.eval.scored import load_results

        self.config, self.error, self.log = config, None, None
        self.items: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {}
        self.torn = 0
        try:
            results = load_results(config.scored)
            self.results = {r.id: r for r in results}
            self.items = ordered(results, config.scored)
            self.log = LabelLog(config.labels, {r.id: r.solution for r in results}, scored=config.scored)
            self.torn = self.log.torn
        except GenPRMError as e:
            self.error = str(e)


def create_app(review: Review) -> FastAPI:
    config = review.config
    app = FastAPI(title="genprm review", docs_url=None, redoc_url=None, openapi_url=None)
    token = config.token.encode() if config.token else None
    page = (resources.files("genprm.review") / "page.html").read_text(encoding="utf-8")

    @app.exception_handler(ReviewError)
    async def on_review_error(request: Request, error: ReviewError) -> JSONResponse:
        return JSONResponse({"error": {"type": error.kind, "message": error.message}}, error.status)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return JSONResponse({"error": {"type": "bad_request", "message": f"{where}: {first['msg']}"}}, 422)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": {"type": "bad_request", "message": f"{request.url.path}: {error.detail}"}},
                            error.status_code)

    def check(request: Request) -> LabelLog:
        """The token, when one is set; then the inputs: bad ones refuse every route with their message."""
        if token is not None:
            given = request.headers.get("x-review-token") or request.query_params.get("token") or ""
            # compare_digest: the time taken does not tell how much of a guess was right.
            if not hmac.compare_digest(given.encode(), token):
                raise ReviewError(401, "unauthorized", "missing or wrong token: open the URL the terminal printed "
                                                       "(it ends in ?token=...)")
        if review.error is not None or review.log is None:
            raise ReviewError(409, "bad_input", review.error or "no labels file")
        return review.log

    def state(log: LabelLog, ids: Any) -> dict[str, Any]:
        return {id: log.current(id).to_dict() for id in ids}

    def refreshed(log: LabelLog) -> None:
        try:
            log.refresh()
        except GenPRMError as e:  # another writer appended rows of another run: stop labelling, say why
            review.error = str(e)
            raise ReviewError(409, "bad_input", str(e)) from None

    @app.get("/")
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/api/queue")
    async def queue(request: Request) -> JSONResponse:
        log = check(request)
        refreshed(log)
        return JSONResponse({"rule": RULE, "items": review.items, "labels": state(log, log.state), "seq": log.seq,
                             "scored": config.scored, "labels_file": config.labels})

    @app.get("/api/changes")
    async def changes(request: Request, since: int = 0) -> JSONResponse:
        log = check(request)
        refreshed(log)
        return JSONResponse({"seq": log.seq, "labels": state(log, [i for i, s in log.changed.items() if s > since])})

    @app.post("/api/action")
    async def action(request: Request, body: Action) -> JSONResponse:
        log = check(request)
        result = review.results.get(body.id)
        if result is None:
            raise ReviewError(404, "bad_request", f"no solution with id {body.id!r} in {config.scored}")
        for c in body.changes:
            if not 0 <= c.step < len(result.steps):
                raise ReviewError(422, "bad_request", f"step {c.step} is out of range (0..{len(result.steps) - 1})")
            if c.field == "mark" and body.kind != "accept" and c.value not in (*MARKS, None):
                raise ReviewError(422, "bad_request", f"mark must be one of {', '.join(MARKS)} or null, got "
                                                      f"{c.value!r}")
            if c.field == "note" and len(c.value or "") > MAX_NOTE_CHARS:
                raise ReviewError(422, "bad_request", f"a note is at most {MAX_NOTE_CHARS} characters")
        changes = [c.model_dump(exclude_unset=True) for c in body.changes]
        try:
            applied, skipped = log.apply(body.id, body.kind, changes, body.client,
                                         accept=[s.verdict for s in result.steps])
        except GenPRMError as e:
            review.error = str(e)
            raise ReviewError(409, "bad_input", str(e)) from None
        except OSError as e:  # disk full, file removed: the page must not say "saved"
            raise ReviewError(507, "not_saved", f"{config.labels}: {e.strerror or e}") from None
        return JSONResponse({"seq": log.seq, "labels": log.current(body.id).to_dict(), "applied": applied,
                             "skipped": skipped})

    @app.get("/api/export")
    async def export(request: Request) -> Response:
        log = check(request)
        rows = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in log.export())
        name = config.labels.rsplit("/", 1)[-1].removesuffix(".jsonl") + ".export.jsonl"
        return Response(rows, media_type="application/x-ndjson",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return app


def review(config: ReviewConfig) -> int:
    """Serve the review page until SIGTERM/SIGINT. Prints `genprm: review on URL` once it accepts, or, when the
    inputs are bad, `genprm: error: ... (the page at URL says the same ...)`; returns 0, or 2 after bad inputs."""
    import secrets

    import uvicorn

    if config.needs_token and not config.token:
        from dataclasses import replace

        config = replace(config, token=secrets.token_urlsafe(16))
    loaded = Review(config)
    app = create_app(loaded)
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))  # bound here, so --port 0 can print the port it got
    sock.listen(128)
    host = f"[{config.host}]" if family == socket.AF_INET6 else config.host
    url = f"http://{host}:{sock.getsockname()[1]}/" + (f"?token={config.token}" if config.token else "")

    def say(message: str) -> None:
        print(f"genprm: {message}", file=sys.stderr, flush=True)

    if loaded.torn:
        say(f"the last row of {config.labels} was cut short by a crash (never saved); its {loaded.torn} bytes are "
            f"kept in {config.labels}.torn")
    if loaded.error:
        say(f"error: {loaded.error} (the page at {url} says the same; Ctrl-C stops)")
    else:
        done = len(loaded.log.state) if loaded.log else 0
        say(f"review on {url} ({len(loaded.items)} solutions, {done} with labels; labels go to {config.labels})")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a review ends (uvicorn raises it again once it has shut down)
    finally:
        sock.close()
    if loaded.log is not None and not loaded.error:
        loaded.log.refresh()
        say(f"{len(loaded.log.state)} solutions with labels in {config.labels}; train on them with `genprm distill "
            f"real --labelled {config.labels}`, score the verifier with `genprm eval {config.scored} --gold "
            f"{config.labels}`")
    return 2 if loaded.error else 0
