"""Shared fixtures: offline guard, tiny checkpoints, scratch copies of the project for DVC runs."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

import imdb_bert  # noqa: F401  (selects tf-keras before TensorFlow is imported)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_CSV = SHARED / "data" / "imdb" / "IMDB Dataset.csv"
SHARED_MINILM = SHARED / "models" / "minilm-l6-h384-uncased"
requires_shared = pytest.mark.skipif(
    not (SHARED_CSV.is_file() and SHARED_MINILM.is_dir()),
    reason=f"needs the real reviews and MiniLM checkpoint at {SHARED} (CI has them)")

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any outbound connection, so nothing silently reaches for a hub."""
    connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or "/" in host):
            raise OSError(f"network access blocked in tests: {address}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


TEST_CORPUS = [
    "A wonderful film with a great cast and a moving story.",
    "A dull, boring movie; the plot makes no sense and the acting is bad.",
    "The director's best work: funny, warm and beautifully shot.",
    "I hated every minute of this terrible, lazy sequel.",
    "An average thriller with one good scene and a weak ending.",
] * 20


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports on 127.0.0.1 (for servers and workers a test starts)."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def make_tiny_checkpoint(folder: Path, vocab_size: int = 200) -> Path:
    """A tiny random-weight BERT: WordPiece vocab trained here with `tokenizers`, config, TF weights."""
    from tokenizers import BertWordPieceTokenizer, processors
    from transformers import BertConfig, BertTokenizerFast, TFBertForSequenceClassification

    wordpiece = BertWordPieceTokenizer(lowercase=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece.train_from_iterator(TEST_CORPUS, vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    wordpiece.post_processor = processors.BertProcessing(("[SEP]", wordpiece.token_to_id("[SEP]")),
                                                         ("[CLS]", wordpiece.token_to_id("[CLS]")))
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, pad_token="[PAD]", unk_token="[UNK]",
                                  cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=2)
    model = TFBertForSequenceClassification(config)
    model(model.dummy_inputs)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert"))


def project_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [name for name in listed if name and (ROOT / name).is_file()]


def copy_project(dest: Path, params: dict | None = None, git: bool = True) -> Path:
    """A scratch copy of the project (what git tracks or would track), optionally with new params, as a git repo."""
    for name in project_files():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    if params is not None:
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if git:
        run(["git", "init", "-q"], dest)
        run(["git", "add", "-A"], dest)
        run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "copy"], dest)
    return dest


def demo_params(**changes: dict) -> dict:
    """demo/params.yaml with some groups' keys replaced, e.g. demo_params(train={"epochs": 1})."""
    params = yaml.safe_load((ROOT / "demo" / "params.yaml").read_text())
    for group, values in changes.items():
        params[group].update(values)
    return params


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for commands the tests start: the venv's python first on PATH (DVC stages call `python`)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1", "PYTHONWARNINGS": "ignore", **extra}


def run(command: list[str], cwd: Path, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd, check=check)


def stage_command(name: str) -> list[str]:
    """The command dvc.yaml gives stage `name` (`python -m imdb_bert.stages...`), with this Python."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return [sys.executable, *shlex.split(stages[name]["cmd"])[1:]]


def stage(name: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    return run(stage_command(name), cwd, check=check)


# --- built once per session, copied by the tests that read it ----------------------------------------------------

def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that `build` fills once per test session, shared by pytest-xdist's workers (a file lock in the
    session's base temporary directory, and a marker written when the build is complete). Tests never change it:
    they copy it (copy_built)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's base is a folder of the session's
        root = root.parent
    folder = root / "built" / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    done = folder.with_name(f"{name}.done")
    with FileLock(str(folder.with_name(f"{name}.lock"))):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed in another worker
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def copy_built(source: Path, dest: Path) -> Path:
    """A private copy of a folder from built_once (a project keeps its git and DVC state: mtimes are kept, and DVC
    finds its outputs unchanged by their hashes)."""
    def dvc_locks(folder: str, names: list[str]) -> list[str]:  # DVC's own lock files, of the build's processes
        return [name for name in names if name in ("lock", "rwlock", "rwlock.lock")] \
            if Path(folder).parts[-2:] == (".dvc", "tmp") else []

    shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True, ignore=dvc_locks)
    return dest


TRAINED_DEMO_PARAMS = demo_params(train={"epochs": 2})


@dataclass(frozen=True)
class TrainedDemo:
    """The demo (demo/params.yaml, 2 epochs) after one `dvc repro` of every stage in a scratch git repository."""

    project: Path  # read-only: copy it with .copy(dest)
    output: str  # what `dvc repro` printed (stdout, then stderr)
    stdout: str
    status: list[str]  # `git status --porcelain --untracked-files=all` right after it

    def copy(self, dest: Path) -> Path:
        return copy_built(self.project, dest)


def _train_demo(folder: Path) -> None:
    copy_project(folder, TRAINED_DEMO_PARAMS)
    result = dvc("repro", cwd=folder)
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], folder).stdout
    (folder.parent / f"{folder.name}.json").write_text(json.dumps(
        {"stdout": result.stdout, "stderr": result.stderr, "status": status.splitlines()}))


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory) -> TrainedDemo:
    """The trained demo, built once per session (split, tokenize, train, evaluate, export: about a minute);
    tests that only read a trained model copy it instead of training their own."""
    project = built_once(tmp_path_factory, "trained-demo", _train_demo)
    record = json.loads((project.parent / f"{project.name}.json").read_text())
    return TrainedDemo(project, record["stdout"] + record["stderr"], record["stdout"], record["status"])


def save_pytorch_safetensors(model, folder: Path, shards: int = 1) -> Path:
    """A TF transformers model's base weights as the Hub ships them today: config.json and model.safetensors
    with PyTorch names and layout (no classification head), optionally sharded with an index, made without torch."""
    import numpy as np
    from safetensors.numpy import save_file
    from transformers.modeling_tf_pytorch_utils import TransposeType, convert_tf_weight_name_to_pt_weight_name

    state = {}
    for weight in model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(weight.name, tf_weight_shape=weight.shape)
        if name.startswith(("classifier.", "pre_classifier.")):
            continue
        array = weight.numpy()
        state[name] = np.ascontiguousarray(array.T if transpose is TransposeType.SIMPLE else array)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    names = sorted(state)
    if shards == 1:
        save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
        return folder
    weight_map = {}
    for index, part in enumerate(np.array_split(np.array(names), shards)):
        file = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        save_file({name: state[name] for name in part}, folder / file, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part.tolist(), file))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder
