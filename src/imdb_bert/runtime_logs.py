"""Quiet start-up: the native runtimes' start-up chatter is kept off a stage's stderr.

TensorFlow's and XLA's C++ code logs through absl before anything can configure it, so TF_CPP_MIN_LOG_LEVEL does
not hide it all: each stage printed an absl banner, oneDNN and `cudart_stub` INFO lines and, on a machine without
an NVIDIA driver, an `E0000 ... failed call to cuInit` line. What the C++ code writes to file descriptor 2 passes
through a small filter process that drops exactly these:

- INFO lines (`I0000 ...`), which TF_CPP_MIN_LOG_LEVEL=2 means to hide anyway;
- absl's "All log messages before absl::InitializeLog() ..." banner;
- the failed cuInit line, only where there is no NVIDIA driver (no /proc/driver/nvidia): with one, it is a real
  error and is kept.

Every other line (warnings, errors, fatal checks) passes unchanged. The filter is a separate process so that a
crashing stage's last native lines still get through. Python's own stderr (logging, progress bars, tracebacks)
bypasses it. TensorFlow's Python loggers are set to warnings (`tensorflow`) and errors (`absl`: the SavedModel
writer's input-renaming notes).

PIPELINE_RUNTIME_LOGS=1 in the environment turns all of this off, for debugging.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

SWITCH = "PIPELINE_RUNTIME_LOGS"
NVIDIA_DRIVER = Path("/proc/driver/nvidia")
INFO = r"I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
BANNER = r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
NO_DRIVER_CUINIT = r"E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit: "
# Reads lines on stdin, writes those not matching argv[1] to stdout, flushing each line.
FILTER = ("import re, sys\n"
          "noise = re.compile(sys.argv[1])\n"
          "for line in sys.stdin.buffer:\n"
          "    if not noise.match(line.decode('utf-8', 'replace')):\n"
          "        sys.stdout.buffer.write(line); sys.stdout.buffer.flush()\n")


def noise_pattern(nvidia_driver: bool) -> str:
    kinds = [INFO, BANNER] + ([] if nvidia_driver else [NO_DRIVER_CUINIT])
    return "|".join(f"(?:{kind})" for kind in kinds)


def quiet_runtime_logs() -> None:
    """Filter the native runtimes' start-up lines from stderr (unless PIPELINE_RUNTIME_LOGS=1); call it once,
    before TensorFlow or JAX is imported."""
    if os.environ.get(SWITCH) == "1":
        return
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to filter
        return
    read, write = os.pipe()
    try:
        filter_process = subprocess.Popen([sys.executable, "-S", "-c", FILTER, noise_pattern(NVIDIA_DRIVER.exists())],
                                          stdin=read, stdout=real, close_fds=True)
    except OSError:
        os.close(read), os.close(write), os.close(real)
        return
    os.close(read)
    os.dup2(write, 2)
    os.close(write)
    sys.stderr = io.TextIOWrapper(io.FileIO(real, "w", closefd=False), line_buffering=True,
                                  encoding=sys.stderr.encoding, errors="backslashreplace")

    def finish() -> None:  # at exit: let the filter pass the last lines before the stage ends
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        try:
            filter_process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            filter_process.kill()

    atexit.register(finish)
