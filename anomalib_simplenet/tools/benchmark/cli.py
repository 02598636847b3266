"""``simplenet-benchmark``: SimpleNet side by side with PatchCore, PaDiM or any anomalib model.

For every model x category x seed of a config (``configs/benchmark/*.yaml``) it trains and tests with
anomalib's own datamodule, ``Engine`` and metrics, exports to OpenVINO with ``Engine.export``, and
measures inference speed (torch and OpenVINO, batch sizes of the config, warm-up, no data loading),
fit time, peak memory and model size. A ``backbone-only`` row times the frozen feature extractor alone.
Results: ``runs.csv`` (one row per run), ``summary.csv``, ``results.md`` and two plots in ``--output``.

anomalib's own ``anomalib benchmark`` pipeline trains and tests too, but inside one process and in a
temporary folder that is deleted before anything else can be measured: no export, no throughput
(anomalib issue 2054), and peak memory mixed across models. Here each run is its own process.

Usage::

    simplenet-benchmark --config configs/benchmark/bottle_lite0_cpu.yaml --output benchmarks/results/mine
    simplenet-benchmark --report benchmarks/results/mine --readme README.md   # redraw tables and plots
    simplenet-benchmark --report benchmarks/results/mine benchmarks/results/added --output benchmarks/results/both
"""

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from anomalib_simplenet.tools.jobs.store import job_key, read_json

from .config import BenchmarkConfig, BenchmarkConfigError, Job

if TYPE_CHECKING:
    from anomalib_simplenet.tools.jobs.ray_runner import Resources


def environment() -> dict[str, str]:
    """CPU model, core count, Python and package versions of this machine."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = names[0] if names else platform.processor() or platform.machine()
    import os  # noqa: PLC0415

    packages = ("anomalib", "torch", "torchvision", "timm", "lightning", "openvino", "anomalib-simplenet")
    info = {"date": date.today().isoformat(), "cpu": cpu, "cpu_count": str(os.cpu_count()), "python": platform.python_version()}
    info.update({package: version(package) for package in packages})
    import torch  # noqa: PLC0415

    info["cuda_device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return info


def jobs_to_run(config: BenchmarkConfig, output: Path) -> tuple[list[Job], int]:
    """Return the config's jobs without a result for their current settings in ``output/runs/``, and how many have one.

    A result counts only when its ``job_key`` matches the job's key now (config, category, seed, model and package
    versions): after a change of the config or an upgrade the job runs again, with a line that says so.
    """
    runs_dir = output / "runs"
    todo, reused = [], 0
    for job in config.jobs():
        result = runs_dir / f"{job.name}.json"
        earlier = read_json(result)
        if earlier is not None and earlier.get("job_key") == job_key(job.settings()):
            print(f"{job.name}: done earlier with these settings, reusing {result}", flush=True)
            reused += 1
            continue
        if earlier is not None:
            print(f"{job.name}: {result} was made with other settings or package versions; running it again", flush=True)
        todo.append(job)
    return todo, reused


def run_jobs(config: BenchmarkConfig, output: Path) -> int:
    """Run every job of ``config`` without a current result, one after another, each in its own process.

    Prints one progress line per job. A failed job is reported with its log and skipped. Returns how many
    of the config's jobs have a result (the report reads them, with any others in the folder, from disk).
    """
    runs_dir, logs_dir = output / "runs", output / "logs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    logs_dir.mkdir(exist_ok=True)
    jobs, finished_jobs = jobs_to_run(config, output)
    started = time.perf_counter()
    for index, job in enumerate(jobs, start=1):
        result = runs_dir / f"{job.name}.json"
        prefix = f"[{index}/{len(jobs)}] {job.name}"
        print(f"{prefix}: running (log: {logs_dir / job.name}.log, {time.perf_counter() - started:.0f} s so far)", flush=True)
        spec = runs_dir / f"{job.name}.job.json"
        spec.write_text(json.dumps(job.to_dict()))
        job_start = time.perf_counter()
        with (logs_dir / f"{job.name}.log").open("w") as log:
            command = [sys.executable, "-m", "anomalib_simplenet.tools.benchmark.job", str(spec), str(result)]
            finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        spec.unlink()
        row = read_json(result)
        if finished.returncode != 0 or row is None or row.get("job_key") != job_key(job.settings()):
            tail = (logs_dir / f"{job.name}.log").read_text().strip().splitlines()[-1:] or ["(empty log)"]
            print(f"{prefix}: FAILED (exit {finished.returncode}): {tail[0]}", flush=True)
            continue
        finished_jobs += 1
        print(f"{prefix}: {_progress_summary(row)} in {time.perf_counter() - job_start:.0f} s", flush=True)
    return finished_jobs


def run_jobs_on_fleet(config: BenchmarkConfig, output: Path, resources: "Resources", address: str | None) -> int:
    """Run the jobs of ``config`` as Ray tasks (``--fleet``): each in a fresh worker process with ``resources``.

    Jobs run side by side as far as the resources allow, so speed figures of jobs that ran together share the
    machine: use ``--fleet`` for accuracy on many categories, the serial run for speed. Returns as :func:`run_jobs`.
    """
    from anomalib_simplenet.tools.jobs.ray_runner import RayJob, connect, run_jobs, summary_table  # noqa: PLC0415

    from .job import run_and_save  # noqa: PLC0415

    runs_dir, logs_dir = output.resolve() / "runs", output.resolve() / "logs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    jobs, finished_jobs = jobs_to_run(config, output)
    print(f"simplenet-benchmark --fleet: {connect(address)}", flush=True)
    ray_jobs = [
        RayJob(job.name, run_and_save, (job.to_dict(), str(runs_dir / f"{job.name}.json")), log=logs_dir / f"{job.name}.log")
        for job in jobs
    ]
    outcomes = run_jobs(ray_jobs, resources, say=lambda line: print(line, flush=True))
    print(summary_table(outcomes, lambda outcome: outcome.error or _progress_summary(outcome.result)), flush=True)
    return finished_jobs + sum(outcome.status == "done" for outcome in outcomes)


def _report_folder(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None) -> Path:
    """Check ``--report``'s folders; join several into ``--output`` (its header and ``runs.csv``); return the folder."""
    from .report import collect_folders  # noqa: PLC0415

    for folder in args.report:
        if not (folder / "runs.csv").is_file() and not any((folder / "runs").glob("*.json")):
            parser.error(f"no finished runs in {folder}: --report takes the folder of an earlier run.")
    if len(args.report) == 1:
        return args.report[0]
    if args.output is None or args.output in args.report:
        parser.error("--report with several folders writes one report into a new folder: give --output DIR.")
    args.output.mkdir(parents=True, exist_ok=True)
    command = "simplenet-benchmark " + shlex.join(argv if argv is not None else sys.argv[1:])
    (args.output / "header.md").write_text(joined_header(args.report, command) + "\n")
    collect_folders(args.report).to_csv(args.output / "runs.csv", index=False)  # a later --report of it reads this
    return args.output


def _progress_summary(row: dict) -> str:
    parts = [f"{key} {row[key]:.3f}" for key in ("image_AUROC", "pixel_AUROC") if key in row]
    parts += [f"fit {row['fit_s']:.0f} s"] if "fit_s" in row else []
    parts += [f"{key.removesuffix('_img_s')} {row[key]:.1f} img/s" for key in row if key.endswith("_b1_img_s")]
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``simplenet-benchmark``."""
    parser = argparse.ArgumentParser(prog="simplenet-benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="benchmark config, e.g. configs/benchmark/bottle_lite0_cpu.yaml")
    parser.add_argument("--output", type=Path, help="results folder (default: runs/simplenet-benchmark/<config name>-<date>)")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the config's seeds")
    parser.add_argument("--models", nargs="+", help="keep only these models of the config")
    parser.add_argument("--categories", nargs="+", help="keep only these categories of the config")
    parser.add_argument(
        "--report", type=Path, nargs="+", metavar="DIR",
        help="only redraw tables and plots from the finished runs in DIR; several DIRs (with --output) make one report",
    )  # fmt: skip
    parser.add_argument("--readme", type=Path, help="also write the results block of this README")
    fleet = parser.add_argument_group("on Ray (pip install -e '.[fleet]')")
    fleet.add_argument("--fleet", action="store_true", help="run the jobs as Ray tasks, side by side as resources allow")
    fleet.add_argument("--address", help="Ray cluster to use (default: RAY_ADDRESS, else a local Ray in this process)")
    fleet.add_argument("--num-cpus", type=float, default=1.0, help="CPUs each job asks of Ray (default 1)")
    fleet.add_argument("--num-gpus", type=float, default=0.0, help="GPUs each job asks of Ray, fractions allowed (default 0)")
    fleet.add_argument("--max-retries", type=int, default=2, help="restarts of a job whose worker died (default 2)")
    args = parser.parse_args(argv)

    from .report import collect_runs, update_readme, write_report  # noqa: PLC0415

    try:
        if args.report:
            output = _report_folder(parser, args, argv)
        else:
            if args.config is None:
                parser.error("give --config (e.g. configs/benchmark/bottle_lite0_cpu.yaml) or --report DIR.")
            full_config = BenchmarkConfig.from_yaml(args.config)
            config = _apply_overrides(full_config, args)
            output = args.output or Path("runs/simplenet-benchmark") / f"{config.name}-{date.today().isoformat()}"
            output.mkdir(parents=True, exist_ok=True)
            command = "simplenet-benchmark " + shlex.join(argv if argv is not None else sys.argv[1:])
            record_call(output, environment(), command)
            # the whole config, not this call's part of it: a table assembled from several calls into one folder keeps
            # the config's order of models and categories (each call's cut is in environment.json's calls)
            (output / "config.json").write_text(json.dumps(full_config.to_dict(), indent=1))
            print(f"simplenet-benchmark: {len(config.jobs())} runs -> {output}", flush=True)
            if not _run(config, output, args):
                print("simplenet-benchmark: no run succeeded; see the logs.", file=sys.stderr)
                return 1
        header = folder_header(output)
        (output / "header.md").write_text(header + "\n")
        runs = collect_runs(output)  # this call's runs and those of earlier calls into the same folder
        if (output / "runs").is_dir():
            runs.to_csv(output / "runs.csv", index=False)
        markdown = write_report(runs, output, header)
        if args.readme:
            update_readme(args.readme, output)
    except BenchmarkConfigError as error:
        print(f"simplenet-benchmark: {error}", file=sys.stderr)
        return 2
    print(markdown)
    print(f"simplenet-benchmark: results in {output}")
    return 0


def _run(config: BenchmarkConfig, output: Path, args: argparse.Namespace) -> int:
    if not args.fleet:
        return run_jobs(config, output)
    try:
        from anomalib_simplenet.tools.jobs.ray_runner import Resources  # noqa: PLC0415
    except ModuleNotFoundError as error:
        msg = f"--fleet needs Ray ({error}): pip install -e '.[fleet]' (or pip install 'ray[data]')."
        raise BenchmarkConfigError(msg) from error
    try:
        resources = Resources(num_cpus=args.num_cpus, num_gpus=args.num_gpus, max_retries=args.max_retries)
    except ValueError as error:
        raise BenchmarkConfigError(str(error)) from error
    return run_jobs_on_fleet(config, output, resources, args.address)


def _apply_overrides(config: BenchmarkConfig, args: argparse.Namespace) -> BenchmarkConfig:
    content = config.to_dict()
    if args.seeds:
        content["seeds"] = args.seeds
    if args.categories:
        wanted = set(args.categories)
        if isinstance(content["data"], list):
            entries = [{**entry, "categories": [c for c in entry["categories"] if c in wanted]} for entry in content["data"]]
            content["data"] = [entry for entry in entries if entry["categories"]]
            content.pop("categories", None)
        else:
            content["categories"] = [category for category in content["categories"] if category in wanted]
        if not content["data"] or not content.get("categories", True):
            msg = f"--categories {args.categories} matches none of the config's categories {list(config.categories)}."
            raise BenchmarkConfigError(msg)
    if args.models:
        wanted = {name.lower() for name in args.models}  # a class name keeps all its variants; a label keeps one
        kept = [model for model in content["models"] if {model["name"].lower(), str(model.get("label")).lower()} & wanted]
        if not kept:
            titles = [model.get("label") or model["name"] for model in content["models"]]
            msg = f"--models {args.models} matches none of the config's models {titles}."
            raise BenchmarkConfigError(msg)
        content["models"] = kept
    return BenchmarkConfig.from_dict(content)


def record_call(output: Path, info: dict[str, str], command: str) -> list[dict[str, str]]:
    """Add this call to ``output/environment.json`` and return every call into the folder, oldest first.

    A table is often assembled from several calls into one folder (a category or a few rows each); the report names
    them all, so each part can be re-run. A call repeated word for word is kept once, with its first date. The
    machine's description and package versions are this call's (a change of versions re-runs the jobs anyway).
    """
    path = output / "environment.json"
    calls = _calls(json.loads(path.read_text())) if path.is_file() else []
    if command not in {call["command"] for call in calls}:
        calls.append({"date": info["date"], "command": command})
    path.write_text(json.dumps({**info, "calls": calls}, indent=1))
    return calls


def _calls(info: dict) -> list[dict[str, str]]:
    """Return the calls an ``environment.json`` lists (one written before the calls were kept: its one ``command``)."""
    if "command" in info:
        return [{"date": info["date"], "command": info["command"]}]
    return list(info.get("calls", []))


def joined_header(folders: list[Path], command: str) -> str:
    """Return the opening lines of one report made from the runs of several folders: each folder's own header, and how.

    The folders may come from different machines: speeds compare only within one, and the report divides each run's
    speed by the backbone measured on its own machine (``x backbone``).
    """
    lines = [
        f"Joined from {len(folders)} benchmark folders by `{command}`. Accuracy compares across them; speeds (img/s, "
        "fit s, memory) compare only between rows measured on the same machine, and 'x backbone' divides each run's "
        "time by that of the backbone measured on its own machine.",
    ]
    for folder in folders:
        lines += ["", f"From `{folder.as_posix()}`:", "", folder_header(folder)]
    return "\n".join(lines)


def folder_header(output: Path) -> str:
    """Return the report's opening lines: machine, versions, the config's shared settings and every call into ``output``.

    Built from the folder's ``environment.json`` and ``config.json``; a folder without them keeps its ``header.md``.
    """
    environment_file, config_file = output / "environment.json", output / "config.json"
    if not (environment_file.is_file() and config_file.is_file()):
        header_file = output / "header.md"
        return header_file.read_text().strip() if header_file.is_file() else "## Benchmark"
    info = json.loads(environment_file.read_text())
    config = BenchmarkConfig.from_dict(json.loads(config_file.read_text()))
    calls = _calls(info)
    versions = ", ".join(f"{package} {info[package]}" for package in ("torch", "anomalib", "openvino", "timm"))
    lines = [
        f"Measured on {info['cpu']} ({info['cpu_count']} cores), GPU: {info['cuda_device']}; {versions}.",
        f"Config {config.name}: {config.backbone} levels {'+'.join(config.layers)}, input {config.image_size}x"
        f"{config.image_size}, seeds {list(config.seeds)}, categories {list(config.categories)}. Accuracy on the test "
        "set (anomalib metrics; thresholds from the config's validation split). Speed: images/s of the model's forward "
        "on images already in memory, after warm-up, torch and OpenVINO (CPU plugin defaults); 'x backbone' is time "
        "per image relative to the frozen feature extractor alone (the backbone-only row).",
        "",
        "Calls into this folder (each ran its part of the config and reused the finished runs):",
        "",
        *[f"- {call['date']}: `{call['command']}`" for call in calls],
    ]
    return "\n".join(lines)
