"""Serve a trained model directory over HTTP, in the TF Serving / KServe V1 REST shape (docs/serving.md).

    imdb-serve [--model models/model] [--decision models/decision.json] [--port 8080]
    curl -s localhost:8080/v1/models/imdb:predict -d '{"instances": ["A wonderful film."]}'

Scores exactly as `imdb-predict` does (the same loader, tokenization, windows and decision), with the reviews of
concurrent requests grouped into one model call (src/imdb_bert/batcher.py). Listens on 127.0.0.1 unless --host
says otherwise. Bad requests get a 4xx and one JSON line {"error": "..."}; a full queue gets 503 with Retry-After.
On SIGTERM it stops taking requests, reports not ready, answers every request it accepted, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from imdb_bert.batcher import Closed, DynamicBatcher, QueueFull
from imdb_bert.commands.predict import MAX_REVIEW_CHARS, Predictor, decision_file
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.trained_model import TrainedModel

log = logging.getLogger("serve")
JSON_TYPES = {dict: "object", list: "list", str: "string", int: "number", float: "number", bool: "boolean",
              type(None): "null"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@dataclass(frozen=True)
class Limits:
    max_instances: int = 64  # reviews in one request
    max_chars: int = MAX_REVIEW_CHARS  # characters in one review
    max_body_bytes: int = 8 << 20  # bytes in one request body
    max_batch: int = 64  # reviews in one model call
    max_wait_ms: float = 5.0  # how long the oldest request waits for others to join its batch
    max_queue: int = 1024  # reviews waiting; beyond it, 503
    batch_size: int = 64  # rows (windows included) per forward pass inside one model call
    shutdown_timeout_s: float = 60.0  # on SIGTERM, the longest wait for accepted requests


LIMIT_HELP = {"max_instances": "most reviews in one request (more: 413)",
              "max_chars": "most characters in one review (more: 413)",
              "max_body_bytes": "most bytes in one request body (more: 413)",
              "max_batch": "most reviews scored in one model call",
              "max_wait_ms": "longest wait of the oldest request for others to join its model call",
              "max_queue": "most reviews waiting; beyond it, 503 with Retry-After",
              "batch_size": "rows (windows included) per forward pass inside one model call",
              "shutdown_timeout_s": "on SIGTERM, the longest wait for the requests already accepted"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def json_type(value: Any) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def parse_instances(body: bytes, limits: Limits) -> list[str]:
    """The review strings of a predict body {"instances": [...]}, or an ApiError saying what is wrong."""
    usage = 'send {"instances": ["a review", ...]}'
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise ApiError(400, f"the body is not JSON ({reason}); {usage}") from None
    if not isinstance(payload, dict):
        raise ApiError(400, f"the body is a JSON {json_type(payload)}; {usage}")
    if "instances" not in payload:
        keys = ", ".join(map(repr, list(payload)[:5])) or "none"
        raise ApiError(400, f"the body has no 'instances' (keys: {keys}); {usage}")
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise ApiError(400, f"'instances' is a {json_type(instances)}; {usage}")
    if not instances:
        raise ApiError(400, f"'instances' is empty; {usage}")
    if len(instances) > limits.max_instances:
        raise ApiError(413, f"{len(instances)} instances, over the limit of {limits.max_instances} per request; "
                            f"split them over several requests")
    for index, review in enumerate(instances):
        if not isinstance(review, str):
            raise ApiError(400, f"instances[{index}] is a {json_type(review)}; each instance is a review string")
        if not review.strip():
            raise ApiError(400, f"instances[{index}] is an empty review")
        if len(review) > limits.max_chars:
            raise ApiError(413, f"instances[{index}] has {len(review):,} characters, over the limit of "
                                f"{limits.max_chars:,}")
    return instances


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; over `limit` bytes, a 413. The rest of an oversized body is read and dropped (up to 8x the
    limit), so the client gets the 413 instead of a connection reset while it is still sending."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > 8 * limit:
        raise ApiError(413, f"the body has {int(declared):,} bytes, over the limit of {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > 8 * limit:
            break
    if size > limit:
        raise ApiError(413, f"the body has {int(declared) if declared.isdigit() else size:,} bytes, over the limit "
                            f"of {limit:,}")
    return b"".join(chunks)


async def unless_client_leaves(request: Request, scoring: asyncio.Future) -> np.ndarray | None:
    """The scoring's result, or None (and the scoring cancelled) if the client disconnects first."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({scoring, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not scoring.done():
        scoring.cancel()
        return None
    return scoring.result()


@dataclass
class ServerState:
    trained: TrainedModel
    name: str
    version: str
    limits: Limits
    draining: bool = False
    accepted: int = 0  # predict requests the batcher took
    answered: int = 0  # of those, answered with predictions
    abandoned: int = 0  # of those, given up by their client before the answer (a client timeout)

    def metadata(self) -> dict:
        decision = asdict(self.trained.decision)
        return {"name": self.name, "version": self.version, "labels": self.trained.labels,
                "max_length": self.trained.max_length, "truncation": self.trained.settings["truncation"],
                "decision": decision, "limits": asdict(self.limits)}

    def status(self) -> dict:
        """TF Serving's model status: AVAILABLE while serving, UNAVAILABLE once draining."""
        state = "UNAVAILABLE" if self.draining else "AVAILABLE"
        return {"model_version_status": [{"version": self.version, "state": state,
                                          "status": {"error_code": "OK", "error_message": ""}}]}


def create_app(predictor: Predictor, state: ServerState) -> FastAPI:
    """The FastAPI app: predict, status, metadata, liveness and readiness."""
    limits, labels, decision = state.limits, predictor.labels, predictor.decision
    batcher = DynamicBatcher(predictor.probabilities, limits.max_batch, limits.max_wait_ms, limits.max_queue)

    @asynccontextmanager
    async def lifespan(_app):
        batcher.start()
        yield
        await asyncio.to_thread(batcher.close)  # every accepted request is answered before the worker stops
        log.info("served %d reviews in %d model calls (largest %d); accepted %d predict requests, answered %d, "
                 "%d abandoned by their clients", batcher.stats.reviews, batcher.stats.batches, batcher.stats.largest,
                 state.accepted, state.answered, state.abandoned)

    app = FastAPI(title="imdb-serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.batcher = batcher

    def check_name(name: str) -> None:
        if name != state.name:
            raise ApiError(404, f"no model named {name!r}; this server serves {state.name!r}")

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.message}, error.status, headers=error.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        reason = {404: "no such route; see docs/serving.md", 405: "method not allowed"}.get(error.status_code,
                                                                                           str(error.detail))
        return JSONResponse({"error": f"{request.method} {request.url.path}: {reason}"}, error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, error: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse({"error": f"internal error ({type(error).__name__}); see the server's log"}, 500)

    @app.api_route("/v1/models/{name}:predict", methods=METHODS)
    async def predict(name: str, request: Request) -> dict:
        if request.method != "POST":
            raise ApiError(405, f"{request.method} {request.url.path}: method not allowed; use POST",
                           {"Allow": "POST"})
        check_name(name)
        if state.draining:
            raise ApiError(503, "the server is shutting down; send the request to another replica",
                           {"Retry-After": "1"})
        texts = parse_instances(await read_body(request, limits.max_body_bytes), limits)
        try:
            scoring = batcher.submit(texts)
        except QueueFull as full:
            raise ApiError(503, f"the queue is full ({limits.max_queue} reviews waiting); retry after "
                                f"{full.retry_after} s", {"Retry-After": str(full.retry_after)}) from None
        except Closed:
            raise ApiError(503, "the server is shutting down", {"Retry-After": "1"}) from None
        state.accepted += 1
        probabilities = await unless_client_leaves(request, scoring)
        if probabilities is None:  # nobody to answer; its reviews are dropped unless their model call started
            state.abandoned += 1
            raise ApiError(499, "the client closed the connection before its answer")
        state.answered += 1
        best = decision.predict(probabilities)
        return {"predictions": [{"label": labels[index],
                                 "probabilities": {label: float(p) for label, p in zip(labels, row, strict=True)}}
                                for index, row in zip(best, probabilities, strict=True)]}

    @app.get("/v1/models/{name}")
    async def model_status(name: str) -> dict:
        check_name(name)
        return state.status()

    @app.get("/v1/models/{name}/metadata")
    async def metadata(name: str) -> dict:
        check_name(name)
        stats = {"accepted": state.accepted, "answered": state.answered, "abandoned": state.abandoned,
                 "waiting_reviews": batcher.waiting, "model_calls": batcher.stats.batches,
                 "reviews_scored": batcher.stats.reviews}
        return {**state.metadata(), "stats": stats}

    @app.get("/livez")
    async def live() -> dict:
        return {"alive": True}

    @app.get("/readyz")
    async def ready() -> JSONResponse:
        if state.draining:
            return JSONResponse({"ready": False, "reason": "shutting down"}, 503)
        return JSONResponse({"ready": True})

    return app


def parse_args() -> argparse.Namespace:
    defaults = Limits()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/model", help="a trained model directory (default: models/model)")
    parser.add_argument("--decision", default=None,
                        help="evaluate's decision file, or `none` for arg-max (default: models/decision.json if "
                             "present, for models/model)")
    parser.add_argument("--name", default="imdb", help="the model's name in the URLs (default: imdb)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine "
                                                            "only; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8080)
    for field_name, value in asdict(defaults).items():
        parser.add_argument(f"--{field_name.replace('_', '-')}", type=type(value), default=value,
                            help=f"{LIMIT_HELP[field_name]} (default: {value})")
    return parser.parse_args()


def check_limits(limits: Limits) -> None:
    for name, value in asdict(limits).items():
        if value < 0 or (value == 0 and name != "max_wait_ms"):
            raise PipelineError(f"--{name.replace('_', '-')} is {value}; expected a positive number")
    if limits.max_instances > limits.max_queue:
        raise PipelineError(f"--max-instances {limits.max_instances} is over --max-queue {limits.max_queue}; "
                            f"one request could never be queued")


def serve(app: FastAPI, host: str, port: int, state: ServerState, shutdown_timeout_s: float) -> None:
    """Run uvicorn until SIGTERM or SIGINT; then drain (readiness 503, new requests 503), answer what was
    accepted, and return (exit 0)."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if not state.draining:
                log.info("signal %d: not ready; answering the requests already accepted", sig)
            state.draining = True
            super().handle_exit(sig, frame)

    # uvicorn re-raises the signal after its graceful shutdown; with these handlers that ends in exit 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False,
                            timeout_graceful_shutdown=shutdown_timeout_s, lifespan="on")
    DrainingServer(config).run()


def main() -> None:
    args = parse_args()
    limits = Limits(**{name: getattr(args, name) for name in asdict(Limits())})
    check_limits(limits)
    trained = TrainedModel.load(args.model, decision_file(args.model, args.decision))
    predictor = Predictor(trained, limits.batch_size)
    predictor.probabilities(["A warm-up review, so the first request does not pay for tracing."])
    state = ServerState(trained, args.name, trained.version(), limits)
    log.info("serving %s (version %s, long reviews: %s) at http://%s:%d/v1/models/%s", trained.directory,
             state.version, trained.decision.long_reviews, args.host, args.port, args.name)
    serve(create_app(predictor, state), args.host, args.port, state, limits.shutdown_timeout_s)


def cli() -> None:
    run_stage(main)


if __name__ == "__main__":
    cli()
