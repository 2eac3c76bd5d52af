"""A long-running child (the MLflow UI server) that goes away with us: its whole process group, on any signal.

``mlflow ui`` starts a server that starts workers (uvicorn or gunicorn). Killed with SIGTERM, ``curatune
ui`` used to die alone and leave them holding the port. The child now runs in a process group of its own;
when we get SIGTERM, SIGHUP or Ctrl-C, the group gets SIGTERM, and SIGKILL after ``grace`` seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from types import FrameType

STOPPING = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def run_group(cmd: Sequence[str], grace: float = 10.0) -> int:
    """Run ``cmd`` in a new process group until it ends; stop the whole group if we are told to stop. Its exit code.

    A stop by signal returns 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM), as a shell would.
    """
    proc = subprocess.Popen(list(cmd), start_new_session=True)
    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        _signal_group(proc.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in STOPPING}
    try:
        deadline = None
        while True:
            # Short waits: a wait already begun is resumed after the signal handler runs, and would not see the grace end.
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if received and deadline is None:
                deadline = time.monotonic() + grace
            if deadline is not None and time.monotonic() > deadline:
                _signal_group(proc.pid, signal.SIGKILL)  # the grace is over
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        # Workers the server left behind (it exited, its group did not): the group goes too.
        _signal_group(proc.pid, signal.SIGKILL)
    return 128 + received[0] if received else code


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
