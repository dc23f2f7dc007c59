"""System metrics for `train.monitor_system`: dvclive's CPU, RAM, disk and GPU curves."""

from __future__ import annotations


def system_monitoring(wanted: bool) -> bool:
    """Whether to pass monitor_system=True to dvclive's Live, made safe on hosts without an NVIDIA driver.

    dvclive (3.49) samples the GPU, CPU and RAM together and drops the whole sample when NVML cannot
    start, so on a CPU-only host (nvidia-ml-py installed, no driver) it logged no curves at all. Where
    NVML does not start, GPU sampling is switched off and the CPU, RAM and disk curves are kept.
    """
    if not wanted:
        return False
    from dvclive import monitor_system

    if monitor_system.GPU_AVAILABLE:
        try:
            monitor_system.nvmlInit()
            monitor_system.nvmlShutdown()
        except monitor_system.NVMLError:
            monitor_system.GPU_AVAILABLE = False
    return True
