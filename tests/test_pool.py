"""The one pool of workers: results by job, a failing job retried and then reported with its traceback while
the others finish, jobs made only when a worker is free, in this process and in spawned ones."""

from __future__ import annotations

import os

import pytest

from semipose.pool import LocalPool, make_pool


# jobs are builtins, which spawned workers can import (a test module's functions they may not)
def job(i: int, bad: int = -1):
    """Job ``i`` as a function and its arguments: ``int(str(i))``, or ``int("bad")`` (a ValueError) for ``bad``."""
    return int, ("bad" if i == bad else str(i),)


@pytest.mark.parametrize("workers", [1, 2])
def test_results_by_job_and_a_failure_kept_apart(workers: int) -> None:
    results: dict[int, int] = {}
    failures = LocalPool(workers, max_retries=1).run(4, lambda i, attempt: job(i, bad=2), results.__setitem__)
    assert results == {0: 0, 1: 1, 3: 3}
    [f] = failures
    assert f.index == 2 and f.attempts == 2 and f.error.startswith("ValueError: invalid literal")
    assert "ValueError" in f.traceback


def test_a_retry_sees_its_attempt_and_can_succeed() -> None:
    results: dict[int, int] = {}
    attempts: list[tuple[int, int]] = []

    def make(i: int, attempt: int):
        attempts.append((i, attempt))
        return job(i, bad=i if attempt == 0 else -1)  # every job fails once, then passes

    assert LocalPool(1, max_retries=1).run(2, make, results.__setitem__) == []
    assert results == {0: 0, 1: 1} and attempts == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_one_worker_runs_here_and_two_spawn() -> None:
    here: dict[int, int] = {}
    LocalPool(1).run(2, lambda i, a: (os.getpid, ()), here.__setitem__)
    assert set(here.values()) == {os.getpid()}
    spawned: dict[int, int] = {}
    LocalPool(2).run(3, lambda i, a: (os.getpid, ()), spawned.__setitem__)
    assert len(spawned) == 3 and os.getpid() not in spawned.values()


def test_jobs_are_made_when_a_worker_is_free() -> None:
    """Job i is made after the jobs before it finished (one worker): it can build on their results."""
    results: dict[int, int] = {}

    def make(i: int, attempt: int):
        return pow, (i + sum(results.values()), 2)

    LocalPool(1).run(3, make, results.__setitem__)
    assert results == {0: 0, 1: 1, 2: 9}


def test_making_a_job_that_fails_is_a_failure_of_that_job() -> None:
    def make(i: int, attempt: int):
        if i == 1:
            raise RuntimeError("no such run")
        return pow, (i, 2)

    results: dict[int, int] = {}
    failures = LocalPool(2).run(3, make, results.__setitem__)
    assert results == {0: 0, 2: 4} and [f.index for f in failures] == [1]


def test_threads_are_the_cores_shared_out_and_backends_by_name() -> None:
    cores = os.cpu_count() or 1
    assert LocalPool(2).threads_per_job(1) == cores  # one job alone gets every core
    assert LocalPool(2).threads_per_job(5) == max(1, cores // 2)
    assert LocalPool(2, threads=3).threads_per_job(5) == 3
    assert make_pool("ray", num_cpus=2).threads_per_job(4) == 2
    with pytest.raises(ValueError, match="backend must be one of"):
        make_pool("dask")
