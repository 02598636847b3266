"""Run named jobs as Ray tasks, with progress lines while they run and a summary table at the end.

Each job gets its declared resources and a fresh worker process, and is retried when its worker dies.

Ray does the scheduling (``ray.remote`` tasks; resources are logical, so ``num_gpus`` can be declared on a
machine without a GPU and Ray still runs at most as many GPU jobs at once as it was told there are GPUs). A job
raising an exception fails once and is reported with its error: a bug or bad data does not get better by
retrying. A worker that dies (killed, out of memory, a crashed node) is retried up to ``max_retries`` times.

Example:
    >>> import ray
    >>> _ = connect(None, local_cpus=2, quiet=True)
    >>> outcomes = run_jobs([RayJob("a", pow, (2, 3)), RayJob("b", divmod, (1, 0))], Resources(num_cpus=1), say=None)
    >>> [(outcome.name, outcome.status, outcome.result) for outcome in outcomes]
    [('a', 'done', 8), ('b', 'failed', None)]
    >>> outcomes[1].error
    'ZeroDivisionError: integer division or modulo by zero'
    >>> ray.shutdown()

"""

import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

DEFAULT_POLL_S = 30.0


@dataclass(frozen=True)
class Resources:
    """What each job asks of Ray, and how often a job whose worker died is started again.

    Example:
        >>> Resources(num_cpus=2, num_gpus=0.5).ray_options()["num_gpus"]
        0.5

    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_retries: int = 2

    def __post_init__(self) -> None:
        if self.num_cpus <= 0 or self.num_gpus < 0 or self.max_retries < 0:
            msg = (
                f"resources need num_cpus > 0, num_gpus >= 0 and max_retries >= 0, got num_cpus={self.num_cpus}, "
                f"num_gpus={self.num_gpus}, max_retries={self.max_retries}."
            )
            raise ValueError(msg)

    def ray_options(self) -> dict[str, Any]:
        """Options of ``ray.remote``: these resources, one job per worker process, no retry of a job's own error."""
        return {
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            "max_retries": self.max_retries,
            "retry_exceptions": False,
            "max_calls": 1,  # a fresh worker process per job: no state, memory or CUDA context carried over
        }


@dataclass(frozen=True)
class RayJob:
    """One job: a name for the progress lines, a function and its arguments (all picklable), an optional log file.

    Example:
        >>> RayJob("bottle", print, ("hello",)).name
        'bottle'

    """

    name: str
    function: Callable[..., Any]
    args: tuple = ()
    log: Path | None = None


@dataclass
class Outcome:
    """How a job ended: ``done`` with its result, or ``failed`` with its error; seconds from its start to its end.

    Example:
        >>> Outcome("bottle", "done", 63.2, result={"fit_s": 60.1}).status
        'done'

    """

    name: str
    status: str
    seconds: float
    result: Any = None
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def connect(address: str | None, local_cpus: int | None = None, local_gpus: int | None = None, quiet: bool = False) -> str:
    """Join the Ray cluster at ``address`` (or ``RAY_ADDRESS``), or start a local Ray inside this process.

    ``local_cpus`` and ``local_gpus`` size the local Ray only (``None``: what this machine has). Returns a line
    that says which, for the progress output.
    """
    if ray.is_initialized():
        return f"Ray already running here ({_size()})"
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=not quiet)
        return f"Ray cluster at {address} ({_size()})"
    ray.init(num_cpus=local_cpus, num_gpus=local_gpus, include_dashboard=False, log_to_driver=not quiet)
    return f"local Ray in this process ({_size()}); set RAY_ADDRESS or --address to use a cluster"


def _size() -> str:
    resources = ray.cluster_resources()
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    return f"{len(nodes)} node(s), {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs"


def alive_nodes() -> int:
    """How many nodes the connected Ray cluster has."""
    return len([node for node in ray.nodes() if node.get("Alive")])


@ray.remote(num_cpus=0)
class _StartBoard:
    """Where each job notes when it started, so that the driver can tell running jobs from waiting ones."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def start(self, name: str) -> None:
        self.started[name] = time.time()

    def starts(self) -> dict[str, float]:
        return dict(self.started)


def _run_in_worker(board: Any, job: RayJob) -> Any:  # noqa: ANN401
    ray.get(board.start.remote(job.name))
    if job.log is not None:  # this worker process runs this job only: its output goes to the job's log
        job.log.parent.mkdir(parents=True, exist_ok=True)
        log = os.open(job.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
    try:
        return job.function(*job.args)
    except BaseException:
        traceback.print_exc()  # into the job's log; Ray hands the error itself to the driver
        raise


def _error_text(error: Exception) -> str:
    if isinstance(error, ray.exceptions.RayTaskError):
        cause = error.cause
        return f"{type(cause).__name__}: {cause}".strip()
    if isinstance(error, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError | ray.exceptions.OutOfMemoryError):
        return f"{type(error).__name__}: its worker died on every try (see the Ray logs)"
    return f"{type(error).__name__}: {error}".strip()


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def run_jobs(
    jobs: Sequence[RayJob],
    resources: Resources,
    say: Callable[[str], None] | None = print,
    poll_s: float = DEFAULT_POLL_S,
) -> list[Outcome]:
    """Run ``jobs`` on the connected Ray (see :func:`connect`); return their outcomes in the order given.

    Prints a line as each job ends and every ``poll_s`` seconds otherwise: done / running / waiting / failed
    and the time since the start.
    """
    say = say or (lambda _line: None)
    board = _StartBoard.remote()
    remote = ray.remote(**resources.ray_options())(_run_in_worker)
    references = {remote.remote(board, job): job for job in jobs}
    pending, outcomes, begun = list(references), {}, time.time()

    def counts() -> str:
        starts = ray.get(board.starts.remote())
        finished = {name for name in outcomes}
        running = len(set(starts) - finished)
        failed = sum(outcome.status == "failed" for outcome in outcomes.values())
        waiting = len(jobs) - len(finished) - running
        return (
            f"done {len(finished) - failed}, running {running}, waiting {waiting}, failed {failed}; "
            f"{_minutes(time.time() - begun)} elapsed"
        )

    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=poll_s)
        for reference in ready:
            job = references[reference]
            started = ray.get(board.starts.remote()).get(job.name, begun)
            try:
                result = ray.get(reference)
                outcomes[job.name] = Outcome(job.name, "done", time.time() - started, result=result)
                say(f"{job.name}: done in {_minutes(time.time() - started)} | {counts()}")
            except ray.exceptions.RayError as error:
                outcomes[job.name] = Outcome(job.name, "failed", time.time() - started, error=_error_text(error))
                log = f" (log: {job.log})" if job.log else ""
                say(f"{job.name}: FAILED: {outcomes[job.name].error}{log} | {counts()}")
        if not ready:
            say(f"... {counts()}")
    ray.kill(board)
    return [outcomes[job.name] for job in jobs]


def summary_table(outcomes: Sequence[Outcome], detail: Callable[[Outcome], str]) -> str:
    """Return a plain-text table, one line per job: name, status, time, and ``detail`` (a result's place, or the error).

    Example:
        >>> print(summary_table([Outcome("bottle", "done", 63.0), Outcome("cable", "failed", 2.0, error="boom")],
        ...                     lambda outcome: outcome.error or "ok"))
        job     status  time        detail
        bottle  done    1 min 03 s  ok
        cable   failed  2 s         boom

    """
    rows = [("job", "status", "time", "detail")]
    rows += [(outcome.name, outcome.status, _minutes(outcome.seconds), detail(outcome)) for outcome in outcomes]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = ["  ".join([*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
