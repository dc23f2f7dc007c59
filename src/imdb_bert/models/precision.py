"""The Keras dtype policy training runs in, from `train.mixed_precision` and the hardware, with the reason.

- GPUs and TPUs: `mixed_bfloat16` where every device computes it natively (TPUs; NVIDIA compute capability 8+),
  else `mixed_float16` with loss scaling (`accelerator_policy`, the same for both model libraries).
- CPUs: `mixed_bfloat16` where the CPU has native bfloat16 instructions (AVX512_BF16 or AMX on x86, BF16 on
  Arm); without them bfloat16 is emulated in float32 and slower (bench/train_throughput.py), so float32 stays.

Variables stay float32 under either mixed policy; the saved model is float32. PIPELINE_CPU_BF16=force in the
environment trains in mixed_bfloat16 on any CPU (for measuring emulated bfloat16, as bench/accuracy_bench.py's bf16
recipe does).

Scoring (`evaluate.bf16_scoring`, `imdb-predict --bf16`): `choose_scoring_precision` allows mixed_bfloat16 where
the hardware computes it natively (the same CPU features and accelerators as above), and `check_bf16_logits` keeps
it only where its logits agree with float32's on the first rows scored (BF16_LOGIT_TOLERANCE); else float32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORCE = "PIPELINE_CPU_BF16"
CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16 = ("avx512_bf16", "amx_bf16", "bf16")  # x86 `flags` (AVX512_BF16, AMX) and Arm `Features` (BF16)


@dataclass(frozen=True)
class Precision:
    policy: str  # a Keras dtype policy: float32, mixed_bfloat16 or mixed_float16
    reason: str


def cpu_bf16_features(cpuinfo: Path = CPUINFO) -> list[str]:
    """The CPU's native bfloat16 features, from /proc/cpuinfo (none where it cannot be read)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            found |= set(value.split()) & set(NATIVE_BF16)
    return [name for name in NATIVE_BF16 if name in found]


def accelerator_policy(native_bf16: list[bool]) -> str:
    """For GPUs and TPUs, one flag each (computes bfloat16 natively: TPUs, NVIDIA compute capability 8+ such as
    A100 and H100): bfloat16 needs no loss scaling and keeps float32's range; older GPUs get float16."""
    return "mixed_bfloat16" if all(native_bf16) else "mixed_float16"


def choose_precision(wanted: bool, accelerators_bf16: list[bool]) -> Precision:
    """`accelerators_bf16`: `accelerator_policy`'s flags for the GPUs or TPUs in use; empty on a CPU."""
    if not wanted:
        return Precision("float32", "train.mixed_precision is false")
    if accelerators_bf16:
        return Precision(accelerator_policy(accelerators_bf16), "train.mixed_precision on the accelerator")
    features = cpu_bf16_features()
    if os.environ.get(FORCE) == "force":
        native = f"native: {', '.join(features)}" if features else "emulated on this CPU"
        return Precision("mixed_bfloat16", f"{FORCE}=force, {native}")
    if features:
        return Precision("mixed_bfloat16", f"the CPU computes bfloat16 natively ({', '.join(features)})")
    return Precision("float32", "train.mixed_precision is on, but this CPU has no native bfloat16 "
                                "(AVX512_BF16 or AMX): emulated bfloat16 is slower, so float32")


# Scoring in bfloat16: kept only while its logits stay within this of float32's on the check rows. bfloat16 keeps
# 8 significant bits; on real reviews a fine-tuned MiniLM's logits moved by at most 0.022 and its reviews' log-odds
# by 0.029 (docs/results.md, "bf16 scoring"). 0.25 leaves a margin of 10 for deeper models, and a log-odds change of
# 0.25 can only flip reviews whose probability is within 0.44-0.56.
BF16_LOGIT_TOLERANCE = 0.25
BF16_CHECK_ROWS = 128  # sequences scored both ways before the choice: a spread over lengths, shortest to longest


def choose_scoring_precision(wanted: bool, accelerators_bf16: list[bool]) -> Precision:
    """The policy to score in, before the logit check: mixed_bfloat16 where it is native, else float32."""
    if not wanted:
        return Precision("float32", "bf16 scoring is off")
    if accelerators_bf16:
        if all(accelerators_bf16):
            return Precision("mixed_bfloat16", "the accelerator computes bfloat16 natively")
        return Precision("float32", "bf16 scoring is on, but an accelerator in use has no native bfloat16")
    features = cpu_bf16_features()
    if os.environ.get(FORCE) == "force":
        native = f"native: {', '.join(features)}" if features else "emulated on this CPU"
        return Precision("mixed_bfloat16", f"{FORCE}=force, {native}")
    if features:
        return Precision("mixed_bfloat16", f"the CPU computes bfloat16 natively ({', '.join(features)})")
    return Precision("float32", "bf16 scoring is on, but this CPU has no native bfloat16 (AVX512_BF16 or AMX): "
                                "emulated bfloat16 is slower, so float32")


def check_bf16_logits(reference: np.ndarray, candidate: np.ndarray,
                      tolerance: float | None = None) -> tuple[bool, dict]:
    """Whether bfloat16 logits (`candidate`) agree with float32's (`reference`) on the same rows: the largest
    absolute difference at most `tolerance` (default BF16_LOGIT_TOLERANCE). Returns the verdict and its figures."""
    tolerance = BF16_LOGIT_TOLERANCE if tolerance is None else tolerance
    reference, candidate = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    difference = float(np.abs(reference - candidate).max()) if reference.size else 0.0
    agreement = float((reference.argmax(axis=1) == candidate.argmax(axis=1)).mean()) if reference.size else 1.0
    return difference <= tolerance, {"rows": len(reference), "max_logit_difference": round(difference, 6),
                                     "argmax_agreement": round(agreement, 6), "tolerance": tolerance}
