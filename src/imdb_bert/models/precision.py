"""The Keras dtype policy training runs in, from `train.mixed_precision` and the hardware, with the reason.

- GPUs and TPUs: `mixed_bfloat16` where every device computes it natively (TPUs; NVIDIA compute capability 8+),
  else `mixed_float16` with loss scaling (`accelerator_policy`, the same for both model libraries).
- CPUs: `mixed_bfloat16` where the CPU has native bfloat16 instructions (AVX512_BF16 or AMX on x86, BF16 on
  Arm); without them bfloat16 is emulated in float32 and slower (bench/train_throughput.py), so float32 stays.

Variables stay float32 under either mixed policy; the saved model is float32, and evaluate and predict run in
float32. PIPELINE_CPU_BF16=force in the environment trains in mixed_bfloat16 on any CPU (for measuring emulated
bfloat16, as bench/accuracy_bench.py's bf16 recipe does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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
