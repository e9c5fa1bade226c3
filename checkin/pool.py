"""The verification pool: face analysis in worker processes, never on the event loop.

One :class:`VerificationPool` per server process: a ``ProcessPoolExecutor`` of ``EMON_BIOMETRICS_WORKERS`` spawned
processes, each running ``biometrics.pipeline.warm_up`` once as its initializer (at a lower CPU priority than the
server process, so the event loop stays responsive when verification saturates the cores). The executor starts
lazily on the first job (or eagerly with :meth:`start`). Admission is bounded: up to ``workers`` jobs run at once; up to
``workers * EMON_CHECKIN_QUEUE_PER_WORKER`` may wait; beyond that :meth:`admit` refuses and the caller answers 503.
While at most one job waits per worker, a request holds on for its decision (it starts within one verification
time); past that the pool is ``saturated`` and the API answers 202 and finishes later instead of holding the
connection.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from biometrics.pipeline import warm_up
from biometrics.policy import BiometricPolicy, DecodeLimits
from core.settings import Settings

T = TypeVar("T")


def policy_from(settings: Settings) -> BiometricPolicy:
    """The biometric policy in force: the library's, with the thresholds and limits our settings name."""
    b = settings.biometrics
    base = BiometricPolicy()
    decode = DecodeLimits(
        max_bytes=settings.http.max_image_bytes,
        max_pixels=min(b.max_pixels, base.decode.max_pixels),
        analysis_max_side_px=b.max_image_side,
    )
    changed = (
        b.accept_threshold != base.accept_distance
        or b.refer_threshold != base.refer_distance
        or b.replay_threshold != base.replay_distance
        or b.max_image_side != base.decode.analysis_max_side_px
    )
    version = base.version
    if changed:  # another set of limits is another policy: say so in every decision record
        version += f"+a{b.accept_threshold}r{b.refer_threshold}p{b.replay_threshold}s{b.max_image_side}"
    return BiometricPolicy(
        version=version,
        accept_distance=b.accept_threshold,
        refer_distance=b.refer_threshold,
        replay_distance=b.replay_threshold,
        use_68_point_model=b.use_68_point_landmarks,
        decode=decode,
    )


def _rss_mb() -> float:
    """This process's resident memory (run inside a worker)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Verification workers run at a lower CPU priority than the server process, so when the cores are saturated the
#: event loop (health probes, polls, uploads) still gets the CPU first; verification simply takes what is left.
WORKER_NICENESS = 10


def init_worker(policy: BiometricPolicy) -> None:
    """Pool initializer: lower this worker's priority, then load the models once."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    warm_up(policy)


def _worker_info() -> tuple[int, float]:
    return os.getpid(), _rss_mb()


class PoolFull(Exception):
    """More jobs are waiting than the pool admits."""


class VerificationPool:
    def __init__(self, workers: int, policy: BiometricPolicy, queue_per_worker: int = 4) -> None:
        self.workers = max(1, workers)
        self.policy = policy
        self.capacity = self.workers * max(2, queue_per_worker)
        # Up to one job waiting per worker still starts within one verification time: worth holding the request.
        self.sync_limit = self.workers * 2
        self.in_flight = 0
        self._executor: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=init_worker,
                initargs=(self.policy,),
            )
        return self._executor

    async def start(self) -> None:
        """Spawn and warm every worker now rather than on the first check-in."""
        await asyncio.gather(*(self.run(_worker_info) for _ in range(self.workers)))

    @property
    def saturated(self) -> bool:
        """Every worker busy and one more job queued for each: a new request would wait too long to hold open."""
        return self.in_flight >= self.sync_limit

    def admit(self) -> None:
        if self.in_flight >= self.capacity:
            raise PoolFull(f"{self.in_flight} verifications in progress")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker. A crashed worker breaks the executor: it is replaced once, then fails."""
        self.in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self._ensure(), fn, *args)
            except BrokenProcessPool:
                self._replace()
                return await loop.run_in_executor(self._ensure(), fn, *args)
        finally:
            self.in_flight -= 1

    def _replace(self) -> None:
        broken, self._executor = self._executor, None
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)

    async def worker_memory(self) -> dict[int, float]:
        """Resident memory (MB) of each worker process, measured inside it."""
        found: dict[int, float] = {}
        for _ in range(self.workers * 4):
            pid, rss = await self.run(_worker_info)
            found[pid] = rss
            if len(found) >= self.workers:
                break
        return found

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


_shared: dict[tuple[int, str, int], VerificationPool] = {}


def shared_pool(settings: Settings) -> VerificationPool:
    """The process's pool for these settings (apps built again in one process, as in tests, share it)."""
    policy = policy_from(settings)
    key = (settings.biometrics.workers, policy.version, settings.checkin.queue_per_worker)
    if key not in _shared:
        _shared[key] = VerificationPool(settings.biometrics.workers, policy, settings.checkin.queue_per_worker)
    return _shared[key]


@atexit.register
def _shutdown_all() -> None:
    for pool in _shared.values():
        pool.shutdown()
