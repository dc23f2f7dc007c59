"""One clear line and a non-zero exit for anything a user can fix."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable


class PipelineError(Exception):
    """Bad input or settings: the message names the file, row or key and what to do."""


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(), turning a PipelineError into one line on stderr and exit 1; the native runtimes'
    start-up lines are filtered out (src/imdb_bert/runtime_logs.py)."""
    from imdb_bert.runtime_logs import quiet_runtime_logs

    quiet_runtime_logs()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        main()
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
