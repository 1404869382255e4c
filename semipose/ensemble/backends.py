"""Execution backends: train these member tasks, hand back each result as it arrives.

``local`` (default) uses this process (one worker, or one member) or a pool of spawned processes, each
limited to ``cores // workers`` torch threads (more threads than cores slows torch down badly). The
pool spawns fresh interpreters, so a script that trains an ensemble needs the usual
``if __name__ == "__main__":`` guard. ``ray`` runs
each member as a Ray task on a local instance or a cluster. Both retry a failing member up to
``max_retries`` times and report a member that still fails with its traceback, keeping the others.
Local workers exit when their parent dies (even by SIGKILL); Ray tasks are cancelled when the run is
interrupted, and Ray itself fails the tasks of a driver that died (they are owned by it).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Protocol

from ..processes import exit_with_parent, format_exception
from .member import MemberResult, MemberTask, TrainingData, train_member


@dataclass
class MemberFailure:
    index: int
    error: str
    traceback: str
    attempts: int


OnResult = Callable[[MemberResult], None]


class Backend(Protocol):
    name: str

    def threads_per_member(self, num_tasks: int) -> int: ...
    def run(self, tasks: list[MemberTask], data: TrainingData, on_result: OnResult) -> list[MemberFailure]: ...


class LocalBackend:
    """This process (``workers=1``) or a pool of ``workers`` spawned processes."""

    name = "local"

    def __init__(self, workers: int = 1, max_retries: int = 1, threads: int | None = None):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers, self.max_retries, self.threads = workers, max_retries, threads

    def _parallel(self, num_tasks: int) -> int:
        return max(1, min(self.workers, num_tasks))

    def threads_per_member(self, num_tasks: int) -> int:
        """All cores shared by the members that run at once (one member alone gets them all)."""
        return self.threads or max(1, (os.cpu_count() or 1) // self._parallel(num_tasks))

    def run(self, tasks: list[MemberTask], data: TrainingData, on_result: OnResult) -> list[MemberFailure]:
        if self._parallel(len(tasks)) == 1:  # one worker, or one member: no pool to start
            return self._run_here(tasks, data, on_result)
        return self._run_pool(tasks, data, on_result)

    def _run_here(self, tasks, data, on_result) -> list[MemberFailure]:
        failures = []
        for task in tasks:
            for attempt in range(self.max_retries + 1):
                try:
                    on_result(train_member(replace(task, attempt=attempt), data))
                    break
                except Exception as e:
                    if attempt == self.max_retries:
                        failures.append(
                            MemberFailure(task.index, f"{type(e).__name__}: {e}", format_exception(e), attempt + 1)
                        )
        return failures

    def _run_pool(self, tasks, data, on_result) -> list[MemberFailure]:
        failures: list[MemberFailure] = []
        queue = [(t, 0) for t in tasks]
        while queue:
            with ProcessPoolExecutor(
                self.workers, mp_context=mp.get_context("spawn"), initializer=exit_with_parent, initargs=(os.getpid(),)
            ) as pool:
                running: dict[Future, tuple[MemberTask, int]] = {
                    pool.submit(train_member, replace(t, attempt=a), data): (t, a) for t, a in queue
                }
                queue = []
                broken = False
                err: BaseException | None = None
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task, attempt = running.pop(fut)
                        try:
                            on_result(fut.result())
                            continue
                        except BrokenProcessPool as e:  # a worker died: retry on a fresh pool
                            broken, err = True, e
                        except Exception as e:
                            err = e
                        if attempt < self.max_retries:
                            if broken:
                                queue.append((task, attempt + 1))
                            else:
                                running[pool.submit(train_member, replace(task, attempt=attempt + 1), data)] = (
                                    task,
                                    attempt + 1,
                                )
                        else:
                            assert err is not None
                            failures.append(
                                MemberFailure(
                                    task.index, f"{type(err).__name__}: {err}", format_exception(err), attempt + 1
                                )
                            )
        return failures


class RayBackend:
    """Each member one Ray task; the training data goes into the object store once."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int = 1, num_gpus: float = 0.0, max_retries: int = 1):
        self.address, self.num_cpus, self.num_gpus, self.max_retries = address, num_cpus, num_gpus, max_retries

    def threads_per_member(self, num_tasks: int) -> int:
        return max(1, int(self.num_cpus))

    def run(self, tasks: list[MemberTask], data: TrainingData, on_result: OnResult) -> list[MemberFailure]:
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
        try:
            remote = ray.remote(
                num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries, retry_exceptions=True
            )(train_member)
            data_ref = ray.put(data)
            pending = {remote.remote(t, data_ref): t for t in tasks}
            failures = []
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                task = pending.pop(done[0])
                try:
                    on_result(ray.get(done[0]))
                except Exception as e:
                    cause = getattr(e, "cause", None) or e
                    failures.append(
                        MemberFailure(task.index, f"{type(cause).__name__}: {cause}", str(e), self.max_retries + 1)
                    )
            return failures
        except BaseException:  # interrupted (Ctrl-C) or failing here: no member trains on for nobody
            for ref in list(locals().get("pending", {})):
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            raise
        finally:
            if started_here:
                ray.shutdown()


BACKENDS = {"local": LocalBackend, "ray": RayBackend}
