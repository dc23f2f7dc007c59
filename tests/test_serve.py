"""imdb-serve: the demo model served on 127.0.0.1 agrees with imdb-predict, batches concurrent requests, answers
every bad request with a 4xx and one JSON line, refuses with 503 when its queue is full, and on SIGTERM answers
what it accepted and exits 0."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_project, demo_params, free_ports, run, stage_command, subprocess_env

LIMITS = {"max-instances": 8, "max-chars": 20_000, "max-body-bytes": 200_000, "max-queue": 16, "max-wait-ms": 20}


@dataclass
class Server:
    project: Path
    process: subprocess.Popen
    port: int
    log: Path


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def call(port: int, method: str, path: str, body: bytes | str | None = None, timeout: float = 120) -> Reply:
    """One request on a new connection (so a refused connection is never mistaken for a lost request)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body.encode() if isinstance(body, str) else body,
                           headers={"Content-Type": "application/json"} if body is not None else {})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def predict(port: int, instances: list, name: str = "imdb") -> Reply:
    return call(port, "POST", f"/v1/models/{name}:predict", json.dumps({"instances": instances}))


def test_the_batcher_groups_waiting_requests_bounds_its_queue_and_drains_on_close():
    """DynamicBatcher alone, with a scorer that blocks until released: deterministic, no model, no HTTP."""
    import asyncio

    from imdb_bert.batcher import DynamicBatcher, QueueFull

    calls: list[list[str]] = []
    release = threading.Event()

    def score(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        release.wait(10)
        return np.array([[len(text), 0.0] for text in texts])

    async def scenario() -> tuple[list, list]:
        batcher = DynamicBatcher(score, max_batch=4, max_wait_ms=1, max_queue=6)
        batcher.start()
        first = batcher.submit(["a"])
        while not calls:  # the worker is in its first call, blocked
            await asyncio.sleep(0.01)
        waiting = [batcher.submit(["bb", "ccc"]), batcher.submit(["dddd"]), batcher.submit(["e", "f", "g"])]
        with pytest.raises(QueueFull):  # 6 reviews wait: one more is refused at once
            batcher.submit(["h"])
        gone = batcher.submit([])  # a request whose client leaves: cancelled, never scored
        gone.cancel()
        release.set()
        results = [await future for future in [first, *waiting]]
        await asyncio.to_thread(batcher.close)
        return results, calls

    results, calls = asyncio.run(scenario())
    assert calls == [["a"], ["bb", "ccc", "dddd"], ["e", "f", "g"]]  # grouped, up to max_batch, in arrival order
    assert [row[:, 0].tolist() for row in results] == [[1], [2, 3], [4], [1, 1, 1]]  # each request its own rows


def start_server(project: Path, port: int) -> Server:
    log = project / f"serve-{port}.log"
    options = [item for key, value in LIMITS.items() for item in (f"--{key}", str(value))]
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "imdb_bert.commands.serve", "--port", str(port),
                                    "--decision", "decision.json", *options], cwd=project, env=subprocess_env(),
                                   stdout=out, stderr=subprocess.STDOUT)
    server = Server(project, process, port, log)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"imdb-serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if call(port, "GET", "/readyz", timeout=5).status == 200:
                return server
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise AssertionError(f"imdb-serve did not become ready:\n{log.read_text()}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=30)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The demo trained as `make demo` trains it (8 epochs; after 2 every probability is near 0.5), with a decision
    that scores long reviews over windows."""
    project = copy_project(tmp_path_factory.mktemp("serve"), demo_params(), git=False)
    for name in ("split", "tokenize", "train"):
        run(stage_command(name), project)
    from imdb_bert.decisions import Decision, write_decision

    write_decision(Decision(labels=["negative", "positive"], temperature=1.5, long_reviews="windows",
                            window_stride=63), project / "decision.json")
    return project


@pytest.fixture(scope="module")
def server(project):
    server = start_server(project, free_ports(1)[0])
    try:
        yield server
    finally:
        stop(server)


def test_concurrent_requests_are_scored_as_predict_scores_them(server, project, monkeypatch):
    monkeypatch.chdir(project)
    from imdb_bert.commands.predict import Predictor
    from imdb_bert.trained_model import TrainedModel

    texts = pd.read_csv("data/split/test.csv", keep_default_na=False)["text"].tolist()
    requests = [texts[i:i + 2] for i in range(0, len(texts), 2)]
    with ThreadPoolExecutor(8) as pool:  # 8 requests of 2 reviews at a time: the queue (16) never overflows
        replies = list(pool.map(lambda batch: predict(server.port, batch), requests))
    assert [reply.status for reply in replies] == [200] * len(requests)
    predictions = [prediction for reply in replies for prediction in reply.json()["predictions"]]
    expected = Predictor(TrainedModel.load("models/model", "decision.json")).scores(texts)
    assert [p["label"] for p in predictions] == expected["predicted_label"].tolist()
    served = np.array([[p["probabilities"]["negative"], p["probabilities"]["positive"]] for p in predictions])
    assert served[:, 1].max() - served[:, 1].min() > 0.1  # not a model stuck at 0.5
    np.testing.assert_allclose(served, expected[["p_negative", "p_positive"]], atol=1e-4)


def test_status_metadata_and_health(server, project):
    status = call(server.port, "GET", "/v1/models/imdb").json()["model_version_status"][0]
    metadata = call(server.port, "GET", "/v1/models/imdb/metadata").json()
    assert status["state"] == "AVAILABLE" and status["version"] == metadata["version"]
    assert metadata["labels"] == ["negative", "positive"] and metadata["max_length"] == 128
    assert metadata["decision"]["long_reviews"] == "windows" and metadata["limits"]["max_instances"] == 8
    assert call(server.port, "GET", "/livez").status == 200 and call(server.port, "GET", "/readyz").status == 200


BAD = {
    "not_json": ("POST", "/v1/models/imdb:predict", "instances: great film", 400, "not JSON"),
    "wrong_shape": ("POST", "/v1/models/imdb:predict", '["great film"]', 400, "the body is a JSON list"),
    "missing_instances": ("POST", "/v1/models/imdb:predict", '{"inputs": ["great"]}', 400, "no 'instances'"),
    "instances_not_a_list": ("POST", "/v1/models/imdb:predict", '{"instances": "great"}', 400, "is a string"),
    "non_strings": ("POST", "/v1/models/imdb:predict", '{"instances": ["good", 3]}', 400, "instances[1] is a number"),
    "empty_list": ("POST", "/v1/models/imdb:predict", '{"instances": []}', 400, "'instances' is empty"),
    "empty_review": ("POST", "/v1/models/imdb:predict", '{"instances": ["  "]}', 400, "an empty review"),
    "too_many": ("POST", "/v1/models/imdb:predict", json.dumps({"instances": ["good"] * 9}), 413,
                 "over the limit of 8"),
    "review_too_long": ("POST", "/v1/models/imdb:predict", json.dumps({"instances": ["a" * 20_001]}), 413,
                        "20,001 characters"),
    "body_too_large": ("POST", "/v1/models/imdb:predict", json.dumps({"instances": ["a " * 150_000]}), 413,
                       "over the limit of 200,000"),
    "not_utf8": ("POST", "/v1/models/imdb:predict", b'{"instances": ["\xff\xfe"]}', 400, "not JSON"),
    "deep_nesting": ("POST", "/v1/models/imdb:predict", "[" * 50_000, 400, "not JSON"),
    "wrong_model": ("POST", "/v1/models/other:predict", '{"instances": ["good"]}', 404, "no model named 'other'"),
    "wrong_method": ("GET", "/v1/models/imdb:predict", None, 405, "use POST"),
    "wrong_method_status": ("DELETE", "/v1/models/imdb", None, 405, "method not allowed"),
    "no_such_route": ("POST", "/v1/predict", '{"instances": ["good"]}', 404, "no such route"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_request_gets_a_4xx_and_one_json_error_line(server, case):
    method, path, body, status, message = BAD[case]
    reply = call(server.port, method, path, body)
    assert reply.status == status, reply.body
    assert reply.body.count(b"\n") == 0 and list(reply.json()) == ["error"] and message in reply.json()["error"]
    assert predict(server.port, ["Still serving."]).status == 200  # the worker lives on


def test_a_full_queue_answers_503_with_retry_after(server):
    with ThreadPoolExecutor(24) as pool:  # 24 requests of 8 reviews at once, into a queue of 16 reviews
        replies = list(pool.map(lambda _: predict(server.port, ["A long wait for a film."] * 8), range(24)))
    statuses = {reply.status for reply in replies}
    assert statuses == {200, 503}, statuses
    refused = [reply for reply in replies if reply.status == 503]
    assert all(int(reply.headers["retry-after"]) >= 1 and "queue is full" in reply.json()["error"]
               for reply in refused)


def test_a_client_that_leaves_before_its_answer_is_dropped_and_harms_nothing(server):
    def stats() -> dict:
        return call(server.port, "GET", "/v1/models/imdb/metadata").json()["stats"]

    before, deadline = stats(), time.monotonic() + 120
    body = json.dumps({"instances": ["A long evening. " * 1200] * 8}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /v1/models/imdb:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        while stats()["accepted"] == before["accepted"]:  # until the server has taken it
            assert time.monotonic() < deadline, "the request never reached the queue"
            time.sleep(0.05)
    while stats()["abandoned"] == before["abandoned"]:
        assert time.monotonic() < deadline, "the abandoned request was never noticed"
        time.sleep(0.2)
    assert predict(server.port, ["Still serving."]).status == 200


def test_sigterm_mid_load_answers_every_accepted_request_and_exits_0(project):
    server = start_server(project, free_ports(1)[0])
    outcomes: list[str] = []
    answered = threading.Event()

    def client() -> None:
        while True:
            try:
                reply = predict(server.port, ["A film to see twice.", "Not worth the ticket."])
            except ConnectionRefusedError:
                outcomes.append("refused")  # the server no longer listens: not accepted
                return
            except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
                outcomes.append("reset")  # never read by the server (checked against its count below)
                continue
            outcomes.append(str(reply.status))
            if reply.status == 200:
                answered.set()
            else:
                assert reply.status == 503 and "shutting down" in reply.json()["error"], reply.body

    try:
        with ThreadPoolExecutor(6) as pool:
            clients = [pool.submit(client) for _ in range(6)]
            assert answered.wait(120)
            time.sleep(0.5)
            server.process.send_signal(signal.SIGTERM)
            for future in clients:
                future.result(timeout=120)
        assert server.process.wait(timeout=120) == 0
    finally:
        stop(server)
    log = server.log.read_text()
    counts = re.search(r"accepted (\d+) predict requests, answered (\d+)", log)
    assert counts, log
    accepted, answered_count = int(counts.group(1)), int(counts.group(2))
    assert accepted == answered_count == outcomes.count("200") > 0, (outcomes, log)
    assert set(outcomes) <= {"200", "503", "refused", "reset"}
