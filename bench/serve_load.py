"""imdb-serve under load on loopback: throughput and latency by concurrency, a soak, bad requests and SIGTERM.

    python -m bench.serve_load                                   # 20 s per level, a 60 s soak
    python -m bench.serve_load --seconds 60 --soak-seconds 600   # the README's figures

The model is bench/export_agreement.py's (MiniLM-L6-H384 fine-tuned on real reviews at max_length 128, evaluated
with windows; trained once and reused). The load generator is wrk (Debian: `apt-get install wrk`), closed loop:
each of `concurrency` connections sends the next request as soon as the last is answered, one real test review
per request, for a bounded time. Reported, each against its goal (issue 25):

- reviews/s and p50/p95/p99 latency at concurrency 1, 8, 32 and 128, and the ratio to predict's batch reviews/s
  on the same reviews (goal at 32: at least 0.85); p99 at concurrency 1 against predict's in-process time for one
  review (goal: at most 1.5x);
- a soak at a steady concurrency: errors (goal 0) and the server's RSS at start and end (goal: at most 5% growth);
- the bad-request mix sent during load: every one a 4xx, and the load's requests still all answered;
- SIGTERM during load: requests the server accepted against those it answered (goal: equal), its exit code.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import machine_line, markdown_table, project_env
from bench.export_agreement import WORKDIR, trained_project

WRK_SCRIPT = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local index = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  index = index %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[index])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""
BAD_REQUESTS = [  # (method, path, body, expected status)
    ("POST", "/v1/models/imdb:predict", "not json", 400),
    ("POST", "/v1/models/imdb:predict", '["a review"]', 400),
    ("POST", "/v1/models/imdb:predict", '{"inputs": ["a review"]}', 400),
    ("POST", "/v1/models/imdb:predict", '{"instances": [1, 2]}', 400),
    ("POST", "/v1/models/imdb:predict", '{"instances": []}', 400),
    ("POST", "/v1/models/imdb:predict", json.dumps({"instances": ["good"] * 65}), 413),
    ("POST", "/v1/models/imdb:predict", json.dumps({"instances": ["a" * 100_001]}), 413),
    ("POST", "/v1/models/other:predict", '{"instances": ["a review"]}', 404),
    ("GET", "/v1/models/imdb:predict", None, 405),
    ("POST", "/v1/models/imdb:predict", b'{"instances": ["\xff"]}', 400),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port: int, method: str, path: str, body: str | bytes | None = None, timeout: float = 120) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body.encode() if isinstance(body, str) else body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """imdb-serve on a free loopback port, in the trained project, stopped by its pid."""

    def __init__(self, project: Path, options: list[str]) -> None:
        self.port, self.log = free_port(), project / "serve-bench.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "imdb_bert.commands.serve", "--port",
                                             str(self.port), *options], cwd=project, env=project_env(project),
                                            stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"error: imdb-serve exited with {self.process.returncode}; see {self.log}")
            try:
                if call(self.port, "GET", "/readyz", timeout=5) == 200:
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        sys.exit(f"error: imdb-serve was not ready in 10 minutes; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)


def wrk(port: int, script: Path, concurrency: int, seconds: float) -> dict:
    """One bounded wrk run; its counts and latency percentiles (ms), reviews/s of 2xx answers."""
    threads = max(1, min(2, concurrency))
    done = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s", "--timeout",
                           "120s", "-s", str(script), f"http://127.0.0.1:{port}/v1/models/imdb:predict"],
                          capture_output=True, text=True, timeout=seconds + 300)
    found = re.search(r"^WRK (\{.*\})$", done.stdout, flags=re.MULTILINE)
    if done.returncode != 0 or not found:
        sys.exit(f"error: wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    result = json.loads(found.group(1))
    errors = sum(result[key] for key in ("connect", "read", "write", "status", "timeout"))
    result.update(errors=errors, reviews_per_s=(result["requests"] - result["status"]) / (result["duration_us"] / 1e6),
                  **{f"p{q}_ms": result[f"p{q}_us"] / 1000 for q in (50, 95, 99)})
    return result


def predict_figures(project: Path, reviews: list[str], batch_size: int) -> dict:
    """predict's batch reviews/s on `reviews`, and its in-process time for one review (median and p99 over the first
    100 reviews, one call each), in a subprocess."""
    code = f"""
import json, statistics, sys, time
import numpy
from imdb_bert.commands.predict import Predictor
from imdb_bert.trained_model import TrainedModel
reviews = json.load(open(sys.argv[1]))
predictor = Predictor(TrainedModel.load("models/model", "models/decision.json"), {batch_size})
predictor.probabilities(reviews[:{batch_size}])
started = time.perf_counter(); predictor.probabilities(reviews); batch = time.perf_counter() - started
single = []
for review in reviews[:100]:
    started = time.perf_counter(); predictor.probabilities([review]); single.append(time.perf_counter() - started)
print("PREDICT", json.dumps({{"reviews_per_s": len(reviews) / batch, "one_review_ms": statistics.median(single) * 1000,
                             "one_review_p99_ms": float(numpy.percentile(single, 99)) * 1000}}))
"""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(reviews, handle)
    done = subprocess.run([sys.executable, "-c", code, handle.name], cwd=project, env=project_env(project),
                          capture_output=True, text=True)
    os.unlink(handle.name)
    found = re.search(r"^PREDICT (\{.*\})$", done.stdout, flags=re.MULTILINE)
    if not found:
        sys.exit(f"error: predict's figures failed: {done.stderr[-3000:]}")
    return json.loads(found.group(1))


def soak(server: Server, script: Path, concurrency: int, seconds: float) -> dict:
    rss = [rss_mib(server.process.pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(5):
            rss.append(rss_mib(server.process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = wrk(server.port, script, concurrency, seconds)
    stop.set()
    sampler.join()
    rss.append(rss_mib(server.process.pid))
    return {**result, "rss_start_mib": rss[0], "rss_end_mib": rss[-1], "rss_max_mib": max(rss)}


def bad_requests_under_load(server: Server, script: Path, seconds: float) -> dict:
    """The bad-request mix, sent over and over while wrk loads the server at concurrency 8."""
    outcomes: list[bool] = []

    def send() -> None:
        deadline = time.monotonic() + seconds - 1
        while time.monotonic() < deadline:
            for method, path, body, status in BAD_REQUESTS:
                outcomes.append(call(server.port, method, path, body) == status)

    sender = threading.Thread(target=send)
    sender.start()
    load = wrk(server.port, script, 8, seconds)
    sender.join()
    alive = call(server.port, "POST", "/v1/models/imdb:predict", '{"instances": ["Still there?"]}') == 200
    return {"bad_sent": len(outcomes), "bad_as_expected": sum(outcomes), "load_errors": load["errors"],
            "load_requests": load["requests"], "alive_after": alive}


def sigterm_under_load(project: Path, options: list[str], reviews: list[str], concurrency: int) -> dict:
    """Clients on new connections until the server stops listening; SIGTERM after a few seconds of load."""
    server = Server(project, options)
    outcomes: list[str] = []

    def client(offset: int) -> None:
        index = offset
        while True:
            body = json.dumps({"instances": [reviews[index % len(reviews)]]})
            index += concurrency
            try:
                outcomes.append(str(call(server.port, "POST", "/v1/models/imdb:predict", body)))
            except ConnectionRefusedError:
                outcomes.append("refused")
                return
            except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
                outcomes.append("reset")

    clients = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    try:
        for thread in clients:
            thread.start()
        time.sleep(5)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        for thread in clients:
            thread.join(timeout=300)
        code = server.process.wait(timeout=300)
        exit_s = time.monotonic() - signalled
    finally:
        server.stop()
    counts = re.search(r"accepted (\d+) predict requests, answered (\d+)", server.log.read_text())
    return {"exit_code": code, "exit_s": exit_s, "client_200": outcomes.count("200"),
            "client_503": outcomes.count("503"),
            "refused_or_reset": outcomes.count("refused") + outcomes.count("reset"),
            "other": len([o for o in outcomes if o not in ("200", "503", "refused", "reset")]),
            "accepted": int(counts.group(1)) if counts else None,
            "answered": int(counts.group(2)) if counts else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2600, help="bench/export_agreement.py's model (reused)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--reviews", type=int, default=200, help="real test reviews sent, one per request")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--seconds", type=float, default=20, help="per concurrency level")
    parser.add_argument("--soak-seconds", type=float, default=60)
    parser.add_argument("--soak-concurrency", type=int, default=8)
    parser.add_argument("--server-options", default="--max-batch 64 --max-wait-ms 5",
                        help="passed to imdb-serve (default: %(default)s)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("error: wrk not found; install it (Debian: apt-get install wrk)")
    project = trained_project(args.workdir, args.rows, args.epochs, args.max_length)
    import pandas as pd

    reviews = pd.read_csv(project / "data/split/test.csv", keep_default_na=False)["text"].tolist()[:args.reviews]
    bodies, script = project / "bench-bodies.jsonl", project / "bench-wrk.lua"
    bodies.write_text("".join(json.dumps({"instances": [review]}) + "\n" for review in reviews))
    script.write_text(WRK_SCRIPT % {"bodies": bodies})
    print(f"{time.strftime('%H:%M:%S')} predict's figures", file=sys.stderr, flush=True)
    predict = predict_figures(project, reviews, 64)
    options = ["--decision", "models/decision.json", *args.server_options.split()]
    server = Server(project, options)
    try:
        levels = {}
        for concurrency in args.levels:
            print(f"{time.strftime('%H:%M:%S')} concurrency {concurrency}", file=sys.stderr, flush=True)
            levels[concurrency] = wrk(server.port, script, concurrency, args.seconds)
        print(f"{time.strftime('%H:%M:%S')} soak", file=sys.stderr, flush=True)
        soaked = soak(server, script, args.soak_concurrency, args.soak_seconds)
        print(f"{time.strftime('%H:%M:%S')} bad requests", file=sys.stderr, flush=True)
        bad = bad_requests_under_load(server, script, min(args.seconds, 20))
    finally:
        server.stop()
    print(f"{time.strftime('%H:%M:%S')} SIGTERM", file=sys.stderr, flush=True)
    stopped = sigterm_under_load(project, options, reviews, 32)
    report(args, predict, levels, soaked, bad, stopped)


def report(args: argparse.Namespace, predict: dict, levels: dict, soaked: dict, bad: dict, stopped: dict) -> None:
    print(f"\n## imdb-serve under load ({args.reviews} real test reviews, one per request, max_length "
          f"{args.max_length}, windows)\n")
    print(f"MiniLM-L6-H384 as bench/export_agreement.py trains it; wrk on loopback, {args.seconds:g} s per level; "
          f"server options `{args.server_options}`. {machine_line()}. Command: `python -m bench.serve_load "
          f"--reviews {args.reviews} --seconds {args.seconds:g} --soak-seconds {args.soak_seconds:g}`\n")
    print(f"predict (in process, batches of 64): {predict['reviews_per_s']:.1f} reviews/s; one review at a time: "
          f"median {predict['one_review_ms']:.0f} ms, p99 {predict['one_review_p99_ms']:.0f} ms.\n")
    rows = [[c, f"{r['reviews_per_s']:.1f}", f"{r['reviews_per_s'] / predict['reviews_per_s']:.2f}",
             f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", f"{r['p99_ms']:.0f}", r["errors"]]
            for c, r in levels.items()]
    print(markdown_table(["concurrency", "reviews/s", "x predict's batch rate", "p50 ms", "p95 ms", "p99 ms",
                          "errors"], rows))
    goals = []
    if 32 in levels:
        ratio = levels[32]["reviews_per_s"] / predict["reviews_per_s"]
        goals.append(["concurrency 32: at least 0.85 of predict's batch reviews/s", f"{ratio:.2f}", ratio >= 0.85])
    if 1 in levels:
        ratio = levels[1]["p99_ms"] / predict["one_review_p99_ms"]
        goals.append(["concurrency 1: p99 at most 1.5x predict's in-process time for one review (its p99 over the "
                      "same reviews)", f"{ratio:.2f}x ({levels[1]['p99_ms']:.0f} vs {predict['one_review_p99_ms']:.0f} "
                      f"ms; median one review {predict['one_review_ms']:.0f} ms)", ratio <= 1.5])
    growth = soaked["rss_end_mib"] / soaked["rss_start_mib"] - 1
    goals.append([f"soak {args.soak_seconds:g} s at concurrency {args.soak_concurrency}: 0 errors",
                  f"{soaked['errors']} errors in {soaked['requests']} requests", soaked["errors"] == 0])
    goals.append(["soak: RSS growth at most 5%", f"{soaked['rss_start_mib']:.0f} -> {soaked['rss_end_mib']:.0f} MiB "
                  f"({growth:+.1%}; max {soaked['rss_max_mib']:.0f})", growth <= 0.05])
    goals.append(["bad requests during load: each a 4xx as documented, load unharmed",
                  f"{bad['bad_as_expected']}/{bad['bad_sent']} as expected; load errors {bad['load_errors']}",
                  bad["bad_as_expected"] == bad["bad_sent"] and bad["load_errors"] == 0 and bad["alive_after"]])
    goals.append(["SIGTERM during load (32 clients): accepted = answered, exit 0",
                  f"accepted {stopped['accepted']}, answered {stopped['answered']}, clients got 200 "
                  f"{stopped['client_200']}, 503 {stopped['client_503']}, refused/reset "
                  f"{stopped['refused_or_reset']}, other {stopped['other']}; exit {stopped['exit_code']} after "
                  f"{stopped['exit_s']:.1f} s",
                  stopped["accepted"] == stopped["answered"] == stopped["client_200"] and stopped["exit_code"] == 0
                  and stopped["other"] == 0])
    print()
    print(markdown_table(["goal", "measured", "met"], [[g, m, "yes" if ok else "NO"] for g, m, ok in goals]))
    print("\n" + json.dumps({"predict": predict, "levels": levels, "soak": soaked, "bad": bad, "sigterm": stopped},
                            default=float))


if __name__ == "__main__":
    main()
