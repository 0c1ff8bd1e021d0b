"""The HTTP routes, the same for every engine (one process, or model replicas on Ray Serve):

    POST /v1/verify     {problem, steps[, id]} -> one result (as `genprm verify --json` prints it);
                        {"solutions": [...]}   -> {"results": [...]}, in input order
    POST /get_reward    OpenRLHF's remote reward model: {"query": [...], "prompts": [...], "labels": [...]} ->
                        {"rewards": [...], "scores": [...], "step_scores": [[...]], "first_error": [...], ...}
    GET  /health        200 {"status": "ok", ...}; 503 {"status": "draining"} after SIGTERM
    GET  /metrics       Prometheus text format

Every error is one line of JSON, {"error": {"type": ..., "message": ...}}, with a 4xx/5xx status; the server goes on
serving. Bodies are read with a size limit and validated with pydantic here, so an engine sees only good input.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException

from genprm.serve.api_errors import APIError, ClientGone
from genprm.serve.engine import Engine
from genprm.serve.lifecycle import Lifecycle
from genprm.serve.prometheus import Metrics
from genprm.serve.server_config import ServeConfig
from genprm.serve.steps import fit_steps, split_query, split_steps
from genprm.types import Solution, VerificationResult

POLL_S = 0.2  # how often a waiting request checks whether its client left or the shutdown deadline passed


class SolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    problem: str
    steps: list[str]
    id: str = ""
    label: int | None = None
    step_labels: list[bool | None] | None = None
    answer: str | None = None
    outcome: bool | None = None
    meta: dict[str, Any] | None = None


class VerifyBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    solutions: list[SolutionIn]


class RewardRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # newer OpenRLHF versions add fields (metas)
    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


def add_routes(app: FastAPI, engine: Engine, config: ServeConfig, metrics: Metrics, lifecycle: Lifecycle) -> None:
    """Add the four routes and the one-line-JSON error handlers to `app`."""
    api_key = config.api_key.encode() if config.api_key else None

    # -- errors: one line of JSON each ----------------------------------------------------------------------

    def error_response(error: APIError) -> JSONResponse:
        metrics.errors.labels(error.kind).inc()
        return JSONResponse({"error": {"type": error.kind, "message": error.message}}, error.status,
                            headers=error.headers)

    @app.exception_handler(APIError)
    async def on_api_error(request: Request, error: APIError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(APIError(422, "bad_request", str(error)))

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, error: HTTPException) -> JSONResponse:
        return error_response(APIError(error.status_code, "bad_request", f"{request.url.path}: {error.detail}"))

    # -- input ----------------------------------------------------------------------------------------------

    def check_auth(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        # compare_digest: the time taken does not tell how much of a guess was right.
        if not (scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key)):
            raise APIError(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <key>)",
                           headers={"WWW-Authenticate": "Bearer"})

    async def read_json(request: Request) -> Any:
        limit = config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise APIError(413, "too_large", f"body is {declared} bytes; the limit is {limit} (--max-body-bytes)")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise APIError(413, "too_large", f"body is over {limit} bytes (--max-body-bytes)")
        try:
            return json.loads(body)
        except ValueError as e:
            raise APIError(400, "bad_request", f"body is not JSON: {e}") from None

    def validate(model: type[BaseModel], data: Any) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
            raise APIError(422, "bad_request", f"{where}: {first['msg']}{more}") from None

    def check_count(n: int, what: str) -> None:
        if n > config.max_solutions:
            raise APIError(413, "too_large", f"{n} {what} in one request; the limit is {config.max_solutions} "
                                             "(--max-solutions)")

    def check_solution(s: SolutionIn, where: str) -> Solution:
        if not s.steps:
            raise APIError(422, "bad_request", f"{where}.steps: a solution needs at least one step")
        if len(s.steps) > config.max_steps:
            raise APIError(422, "too_large", f"{where}.steps: {len(s.steps)} steps; the limit is "
                                             f"{config.max_steps} (--max-steps)")
        for k, step in enumerate(s.steps):
            if len(step) > config.max_step_chars:
                raise APIError(422, "too_large", f"{where}.steps.{k}: {len(step)} characters; the limit is "
                                                 f"{config.max_step_chars} (--max-step-chars)")
        return Solution.from_dict(s.model_dump(exclude_none=True))

    # -- the engine -----------------------------------------------------------------------------------------

    async def verify_all(request: Request, solutions: list[Solution]) -> list[VerificationResult]:
        """The engine's results; the work is withdrawn if the client leaves or the shutdown deadline passes."""
        if lifecycle.draining:
            raise lifecycle.refusal()
        work = asyncio.ensure_future(engine.verify(solutions))
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=POLL_S)
                if done:
                    return work.result()
                if await request.is_disconnected():
                    metrics.errors.labels("cancelled").inc()
                    raise ClientGone()
                if lifecycle.past_deadline():
                    raise lifecycle.cut(len(solutions))
        finally:
            work.cancel()  # a no-op once done; else the engine withdraws the solutions

    async def respond(handler: Callable[[], Awaitable[Any]]) -> Response:
        try:
            return JSONResponse(await handler())
        except ClientGone:
            return Response(status_code=499)  # nginx's "client closed request": nobody reads it

    # -- routes ---------------------------------------------------------------------------------------------

    @app.post("/v1/verify")
    async def verify(request: Request) -> Response:
        check_auth(request)
        data = await read_json(request)
        if isinstance(data, dict) and "solutions" in data:
            check_count(len(data["solutions"]) if isinstance(data["solutions"], list) else 0, "solutions")
            batch = validate(VerifyBatch, data)
            solutions = [check_solution(s, f"solutions.{i}") for i, s in enumerate(batch.solutions)]

            async def run_batch() -> Any:
                return {"results": [r.to_dict() for r in await verify_all(request, solutions)]}

            return await respond(run_batch)
        solution = check_solution(validate(SolutionIn, data), "body")

        async def run_one() -> Any:
            return (await verify_all(request, [solution]))[0].to_dict()

        return await respond(run_one)

    @app.post("/get_reward")
    async def get_reward(request: Request) -> Response:
        check_auth(request)
        data = await read_json(request)
        if isinstance(data, dict) and isinstance(data.get("query"), list):
            check_count(len(data["query"]), "queries")
        body = validate(RewardRequest, data)
        for name in ("prompts", "labels"):
            given = getattr(body, name)
            if given is not None and len(given) != len(body.query):
                raise APIError(422, "bad_request", f"{name}: {len(given)} items for {len(body.query)} queries")
        solutions: list[Solution | None] = []
        for i, query in enumerate(body.query):
            problem, completion = split_query(query, body.prompts[i] if body.prompts else None)
            steps = fit_steps(split_steps(completion, config.step_split), config.max_steps, config.max_step_chars)
            solutions.append(Solution(problem=problem, steps=tuple(steps), id=str(i)) if steps else None)

        async def run() -> Any:
            verified = iter(await verify_all(request, [s for s in solutions if s is not None]))
            results = [next(verified) if s is not None else None for s in solutions]
            rewards = [r.reward if r else 0.0 for r in results]  # an empty completion earns nothing
            return {"rewards": rewards, "scores": rewards,
                    "step_scores": [r.step_scores if r else [] for r in results],
                    "first_error": [r.first_error if r else -1 for r in results],
                    "steps": [list(s.steps) if s else [] for s in solutions],
                    "extra_logs": {"genprm_num_steps": [len(s.steps) if s else 0 for s in solutions],
                                   "genprm_first_error": [r.first_error if r else -1 for r in results]}}

        return await respond(run)

    @app.get("/health")
    async def health() -> JSONResponse:
        state = await engine.health()
        if lifecycle.draining:
            return JSONResponse({"status": "draining", "queued": state["queued"], "running": state["running"]}, 503)
        return JSONResponse({"status": "ok", **state})

    @app.get("/metrics")
    async def metrics_text(request: Request) -> Response:
        check_auth(request)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
