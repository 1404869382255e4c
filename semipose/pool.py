"""One pool of workers for every parallel job: ensemble members, a study's runs, whole studies.

A job is a module-level function and its arguments, made by ``make(i, attempt)``; the local pool makes it
only when a worker is free (so that job ``i`` may depend on the jobs finished before it), Ray all at once. ``local`` runs the jobs in this process
(``workers=1``) or in ``workers`` spawned processes, each limited to ``cores // workers`` torch threads
(more threads than cores slows torch down badly); its workers exit when their parent dies, even by
SIGKILL. ``ray`` runs each job as a Ray task on a local instance or a cluster, cancelled when the driver is
interrupted. Both retry a failing job up to ``max_retries`` times and report one that still fails with its
traceback while the others finish: nothing finished is lost to a failure elsewhere. A script that uses the
spawned pool needs the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

Make = Callable[[int, int], tuple[Callable[..., Any], tuple]]  # (job index, attempt) -> (function, arguments)
OnResult = Callable[[int, Any], None]  # (job index, what the function returned)


class RunsFailed(RuntimeError):
    """Some jobs of a pool failed; the others finished and are kept."""


@dataclass
class JobFailure:
    index: int
    error: str  # "TypeName: message"
    traceback: str
    attempts: int


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


def _failure(index: int, e: BaseException, attempts: int, text: str | None = None) -> JobFailure:
    return JobFailure(index, f"{type(e).__name__}: {e}", text or format_exception(e), attempts)


class Pool(Protocol):
    name: str

    def threads_per_job(self, num_jobs: int) -> int: ...
    def run(self, num_jobs: int, make: Make, on_result: OnResult) -> list[JobFailure]: ...


class LocalPool:
    """This process (``workers=1``, or a single job) or a pool of ``workers`` spawned processes."""

    name = "local"

    def __init__(self, workers: int = 1, max_retries: int = 0, threads: int | None = None):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers, self.max_retries, self.threads = workers, max_retries, threads

    def _parallel(self, num_jobs: int) -> int:
        return max(1, min(self.workers, num_jobs))

    def threads_per_job(self, num_jobs: int) -> int:
        """All cores shared by the jobs that run at once (one job alone gets them all)."""
        return self.threads or max(1, (os.cpu_count() or 1) // self._parallel(num_jobs))

    def run(self, num_jobs: int, make: Make, on_result: OnResult) -> list[JobFailure]:
        if self._parallel(num_jobs) == 1:  # one worker, or one job: no pool to start
            return self._run_here(num_jobs, make, on_result)
        return self._run_spawned(num_jobs, make, on_result)

    def _run_here(self, num_jobs: int, make: Make, on_result: OnResult) -> list[JobFailure]:
        failures = []
        for i in range(num_jobs):
            for attempt in range(self.max_retries + 1):
                try:
                    fn, args = make(i, attempt)
                    result = fn(*args)
                except Exception as e:
                    if attempt == self.max_retries:
                        failures.append(_failure(i, e, attempt + 1))
                    continue
                on_result(i, result)
                break
        return failures

    def _run_spawned(self, num_jobs: int, make: Make, on_result: OnResult) -> list[JobFailure]:
        failures: list[JobFailure] = []
        queue = [(i, 0) for i in range(num_jobs)]
        while queue:  # a pool whose worker died is replaced, and its unfinished jobs retried on the next
            queue = self._one_pool(queue, make, on_result, failures)
        return failures

    def _one_pool(
        self, waiting: list[tuple[int, int]], make: Make, on_result: OnResult, failures: list[JobFailure]
    ) -> list[tuple[int, int]]:
        """Run ``waiting`` (job, attempt) on a fresh pool; returns the jobs to retry on another."""
        again: list[tuple[int, int]] = []
        running: dict[Future, tuple[int, int]] = {}

        def retry_or_fail(i: int, attempt: int, e: BaseException, later: list[tuple[int, int]]) -> None:
            if attempt < self.max_retries:
                later.append((i, attempt + 1))
            else:
                failures.append(_failure(i, e, attempt + 1))

        with ProcessPoolExecutor(
            self.workers, mp_context=mp.get_context("spawn"), initializer=exit_with_parent, initargs=(os.getpid(),)
        ) as pool:

            def submit() -> None:
                while waiting:
                    i, attempt = waiting.pop(0)
                    try:
                        fn, args = make(i, attempt)
                        running[pool.submit(fn, *args)] = (i, attempt)
                        return
                    except BrokenProcessPool as e:  # a worker died: the rest go to the next pool
                        retry_or_fail(i, attempt, e, again)
                    except Exception as e:  # making the job failed: it cannot be retried either
                        failures.append(_failure(i, e, attempt + 1))

            for _ in range(self.workers):
                submit()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    i, attempt = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as e:  # a worker died (killed, out of memory)
                        retry_or_fail(i, attempt, e, again)
                    except Exception as e:
                        retry_or_fail(i, attempt, e, waiting)
                    else:
                        on_result(i, result)
                    submit()
        return again + waiting


class RayPool:
    """Each job one Ray task; an argument shared by several jobs goes into the object store once."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int = 1, num_gpus: float = 0.0, max_retries: int = 0):
        self.address, self.num_cpus, self.num_gpus, self.max_retries = address, num_cpus, num_gpus, max_retries

    def threads_per_job(self, num_jobs: int) -> int:
        return max(1, int(self.num_cpus))

    def run(self, num_jobs: int, make: Make, on_result: OnResult) -> list[JobFailure]:
        try:
            import ray
        except ImportError:
            raise RuntimeError("the ray backend needs Ray: pip install 'semipose[ray]'") from None
        started_here = not ray.is_initialized()
        if started_here:
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        pending: dict[Any, int] = {}
        try:
            remotes: dict[Callable, Any] = {}
            stored: dict[int, Any] = {}  # id(argument) -> its object reference
            failures = []
            jobs = [make(i, 0) for i in range(num_jobs)]
            shared = Counter(id(a) for _, args in jobs for a in args)
            for i, (fn, args) in enumerate(jobs):
                if fn not in remotes:
                    remotes[fn] = ray.remote(
                        num_cpus=self.num_cpus,
                        num_gpus=self.num_gpus,
                        max_retries=self.max_retries,
                        retry_exceptions=True,
                    )(fn)
                remote = remotes[fn]
                refs = [_stored(stored, a, ray) if shared[id(a)] > 1 else a for a in args]
                pending[remote.remote(*refs)] = i
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                i = pending.pop(done[0])
                try:
                    result = ray.get(done[0])
                except Exception as e:
                    cause = getattr(e, "cause", None) or e
                    failures.append(_failure(i, cause, self.max_retries + 1, str(e)))
                    continue
                on_result(i, result)
            return failures
        except BaseException:  # interrupted (Ctrl-C) or failing here: no job trains on for nobody
            for ref in list(pending):
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            raise
        finally:
            if started_here:
                ray.shutdown()


def _stored(stored: dict[int, Any], arg: Any, ray: Any) -> Any:
    """The object reference of an argument several jobs share (training data), put into the store once."""
    if id(arg) not in stored:
        stored[id(arg)] = ray.put(arg)
    return stored[id(arg)]


POOLS = ("local", "ray")


def make_pool(
    backend: str = "local",
    workers: int = 1,
    max_retries: int = 0,
    threads: int | None = None,
    address: str | None = None,
    num_cpus: int = 1,
    num_gpus: float = 0.0,
) -> Pool:
    """The pool a config names (``backend`` one of :data:`POOLS`)."""
    if backend == "ray":
        return RayPool(address, num_cpus, num_gpus, max_retries)
    if backend != "local":
        raise ValueError(f"backend must be one of {POOLS}, got {backend!r}")
    return LocalPool(workers, max_retries, threads)
