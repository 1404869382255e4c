"""What pools of spawned worker processes share: workers that exit with their parent, and a failure's
traceback as text (ensemble members and the runs of a study)."""

from __future__ import annotations

import os
import threading
import time
import traceback


class RunsFailed(RuntimeError):
    """Some runs of a pool failed; the others finished and are kept."""


def exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Pool initializer: a worker whose parent died (killed, even by SIGKILL) exits within ``poll_s``
    instead of waiting forever for work; its run resumes from its checkpoint on ``--resume``."""

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="semipose-parent-watch", daemon=True).start()


def format_exception(e: BaseException) -> str:
    """The traceback of ``e`` (for a worker's exception: with the worker's own traceback as its cause)."""
    return "".join(traceback.format_exception(type(e), e, e.__traceback__))
