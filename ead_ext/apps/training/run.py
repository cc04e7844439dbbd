"""One training run: verl's own trainer (``python -m verl.trainer.main_ppo``) on an EAD recipe.

:func:`prepare` writes the run directory (data as verl parquet, the model with a chat template,
the exact command in ``command.json``); :func:`launch` runs verl's trainer in its own process group,
follows verl's per-step log (its ``file`` logger: ``verl_log.jsonl``) for the progress line, and
ends the whole process group (verl's Ray cluster included) when the run ends, fails or passes its
time limit; :func:`collect` merges the per-step metrics with the held-out evaluation
(:mod:`.heldout`) into ``metrics.jsonl``.

The recipe is the one GPU users run (``integrations/verl/config/ead_<loss>.yaml``); on a machine
without an accelerator the CPU mode's overrides are added (:data:`cpu_mode.CONFIG_OVERRIDES`).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

from ead_ext.schedule import Schedule
from . import data as D
from .methods import Method

__all__ = ["RunSpec", "RunResult", "prepare", "launch", "collect", "TrainingFailed"]


def _config_dir() -> Path:
    """integrations/verl/config, found through the import system (a package_dir mapping, not a fixed
    path) without importing the package, which imports verl: reading results needs no verl."""
    from importlib.util import find_spec

    spec = find_spec("ead_ext.integrations.verl")
    return Path(spec.origin).resolve().parent / "config"


CONFIG_DIR = _config_dir()
REWARD_FILE = Path(__file__).resolve().parent / "reward.py"
MANAGERS = {"v1": "ead_ext.integrations.verl.agent_loop_tq.EADAgentLoopManagerTQ",
            "legacy": "ead_ext.integrations.verl.agent_loop.EADAgentLoopManager"}


class TrainingFailed(RuntimeError):
    pass


#: spec fields added after run records were stored, written out only when not at their default, so
#: that a spec at the earlier defaults reads as the stored ones do (the resumable --compare and the
#: pooling of stored records compare specs as written)
_WRITTEN_WHEN_SET = {"ranks": 1}


@dataclass
class RunSpec:
    """Everything one run needs; the defaults are the embedded tiny arithmetic setting."""

    out: Path
    method: Method
    schedule: Schedule
    trainer: str = "v1"
    loss: str = "grpo"
    steps: int = 20
    prompts_per_step: int = 8
    rollout_n: int = 8
    lr: float = 2e-4
    tis_cap: float = 2.0
    task: str = "arithmetic"  # the verifier (and, without model / data, the tiny model and problems)
    model: Optional[str] = None  # None: the task's shipped tiny model
    data: Optional[str] = None  # None: the task's own problems; else a directory (see data.prepare_data)
    train_prompts: int = 2048
    heldout_prompts: int = 64
    heldout_n: int = 16
    heldout_every: int = 10
    heldout_temperature: float = 1.0
    max_prompt_length: int = 32
    max_response_length: int = 96
    seed: int = 0
    dtype: str = "float32"  # rollout dtype and FSDP compute dtype ("bfloat16" for real models)
    timeout_s: float = 1800.0
    extra: List[str] = field(default_factory=list)  # more Hydra overrides, applied last
    ranks: int = 1  # trainer ranks (verl's n_gpus_per_node): FSDP ranks, one rollout replica each

    def to_json(self) -> dict:
        d = asdict(self)
        for key, default in _WRITTEN_WHEN_SET.items():
            if d[key] == default:
                del d[key]
        d["out"] = str(self.out)
        d["schedule"] = self.schedule.to_dict()
        d["method"] = asdict(self.method)
        return d


@dataclass
class RunResult:
    spec: RunSpec
    seconds: float
    steps: List[dict]  # one entry per logged step: {"step": s, **verl metrics}
    heldout: List[dict]  # one entry per held-out evaluation (see heldout.summarize_dump)


def prepare(spec: RunSpec, own_ray: bool = True) -> List[str]:
    """Writes the run's data and model under ``spec.out``; returns verl's command line.

    ``own_ray=False``: the run joins a running cluster (:class:`.ray_cluster.SharedRay`, whose
    overrides :func:`launch` appends), so it sets none of the resources of a cluster of its own."""
    from ..tiny_model import default_model_path

    out = spec.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = Path(spec.model) if spec.model else default_model_path(task=spec.task)
    model = D.model_with_chat_template(model, out / "model")
    train_file, val_file = D.prepare_data(spec.data, out / "data", spec.train_prompts, spec.heldout_prompts,
                                          spec.seed, task=spec.task)
    ead_mode = f"ead_{spec.loss}"
    cmd = [sys.executable, "-m", "verl.trainer.main_ppo", "--config-path", str(CONFIG_DIR), "--config-name",
           ead_mode]
    cmd += overrides(spec, model, train_file, val_file, own_ray=own_ray)
    (out / "command.json").write_text(json.dumps({"spec": spec.to_json(), "command": cmd}, indent=1) + "\n")
    return cmd


def overrides(spec: RunSpec, model: Path, train_file: Path, val_file: Path, own_ray: bool = True) -> List[str]:
    from ead_ext.integrations.verl import cpu_mode

    if spec.trainer not in MANAGERS:
        raise ValueError(f"trainer must be one of {sorted(MANAGERS)}, got {spec.trainer!r}")
    b, n, ranks = spec.prompts_per_step, spec.rollout_n, spec.ranks
    if ranks < 1 or (b * n) % ranks:
        raise ValueError(f"ranks must be >= 1 and divide prompts x n = {b * n}, got {ranks}")
    micro = b * n // ranks  # a rank's share of the step's responses, in one micro-batch
    ro, sch = "actor_rollout_ref.rollout", spec.schedule
    o = [
        f"data.train_files={train_file}", f"data.val_files={val_file}",
        f"data.max_prompt_length={spec.max_prompt_length}", f"data.max_response_length={spec.max_response_length}",
        f"data.train_batch_size={b}", f"data.seed={spec.seed}", "data.dataloader_num_workers=0",
        f"actor_rollout_ref.model.path={model}",
        f"actor_rollout_ref.actor.optim.lr={spec.lr}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={b}",  # one update per step
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={micro}",
        f"{ro}.log_prob_micro_batch_size_per_gpu={micro}",
        f"{ro}.n={n}", f"{ro}.seed={spec.seed}",
        f"{ro}.max_model_len={spec.max_prompt_length + spec.max_response_length + 8}",
        f"{ro}.max_num_batched_tokens={max(2048, b * n * 8)}",
        f"{ro}.gpu_memory_utilization=0.5",
        f"{ro}.agent.num_workers=1",
        f"{ro}.agent.agent_loop_manager_class={MANAGERS[spec.trainer]}",
        f"{ro}.val_kwargs.n={spec.heldout_n}", f"{ro}.val_kwargs.do_sample=true",
        f"{ro}.val_kwargs.temperature={spec.heldout_temperature}",
        f"{ro}.val_kwargs.top_p=1.0", f"{ro}.val_kwargs.top_k=-1",
        *[f"{ro}.custom.ead.{k}={v}" for k, v in sch.to_dict().items()],
        f"{ro}.custom.ead.val_seed={spec.seed}",  # seeded held-out sampling (integrations/verl/seeding.py)
        "reward.num_workers=1",
        f"reward.custom_reward_function.path={REWARD_FILE}", "reward.custom_reward_function.name=compute_score",
        f"trainer.use_v1={'true' if spec.trainer == 'v1' else 'false'}",
        f"trainer.n_gpus_per_node={ranks}", "trainer.nnodes=1",
        f"trainer.total_training_steps={spec.steps}", "trainer.total_epochs=1000",
        "trainer.val_before_train=true", f"trainer.test_freq={spec.heldout_every}", "trainer.save_freq=-1",
        "trainer.logger=[console,file]", f"trainer.validation_data_dir={spec.out.resolve() / 'heldout'}",
        "trainer.project_name=ead-ext", f"trainer.experiment_name={spec.out.name}",
        # one TransferQueue storage unit (V1 trainer): each is a Ray actor holding a logical CPU
        "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
    ]
    if own_ray:
        o.append("+ray_kwargs.ray_init.include_dashboard=false")  # two processes fewer; nothing here reads it
    if spec.dtype == "float32":  # small models: fp32 end to end (bf16 matmuls are slow without AMX)
        fp32 = "{param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}"
        o += [f"{ro}.dtype=float32", f"+actor_rollout_ref.actor.fsdp_config.mixed_precision={fp32}",
              f"+actor_rollout_ref.ref.fsdp_config.mixed_precision={fp32}"]
    o += spec.method.overrides(spec.loss, spec.tis_cap)
    if cpu_mode.wanted():
        if own_ray:
            o += cpu_mode.config_overrides(n_gpus_per_node=ranks, nnodes=1, num_cpus=16)
        else:  # a joining run books no resources of its own (Ray refuses them when connecting)
            o += list(cpu_mode.CONFIG_OVERRIDES)
    return o + list(spec.extra)


# Every process of a run inherits this variable (Ray's raylet and workers keep the driver's
# environment), so the run's processes can be found even after one has left the process group.
RUN_MARKER = "EAD_TRAIN_RUN_ID"


def run_env(spec: RunSpec, run_id: str) -> dict:
    """The environment of a run's processes (``run_id``: its marker)."""
    env = dict(os.environ)
    env.update({
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "VERL_FILE_LOGGER_PATH": str(spec.out.resolve() / "verl_log.jsonl"),
        "RAY_DEDUP_LOGS": "1", "RAY_USAGE_STATS_ENABLED": "0", "HYDRA_FULL_ERROR": "1",
        RUN_MARKER: run_id,
    })
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    env.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    return env


def read_log(path: Path) -> List[dict]:
    """verl's ``file`` logger lines ``{"step": s, "data": {...}}`` as ``{"step": s, **data}``, one per step."""
    by_step: dict = {}
    if not path.exists():
        return []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written
        by_step.setdefault(int(rec.get("step", -1)), {}).update(rec.get("data") or {})
    return [{"step": s, **d} for s, d in sorted(by_step.items())]


def launch(spec: RunSpec, cmd: List[str], progress: Optional[Callable[[List[dict]], None]] = None,
           verbose: bool = False, cluster=None) -> None:
    """Runs verl to a successful end. Raises :class:`TrainingFailed` (after ending every process of
    the run) on a non-zero exit or when ``spec.timeout_s`` passes. ``cluster``: a started
    :class:`.ray_cluster.SharedRay` the run joins (``cmd`` from ``prepare(spec, own_ray=False)``);
    ``command.json`` then holds the command with the joining overrides, as it ran."""
    out = spec.out.resolve()
    log_path, verl_log = out / "verl.log", out / "verl_log.jsonl"
    verl_log.unlink(missing_ok=True)
    t0 = time.monotonic()
    run_id = f"{os.getpid()}-{time.time_ns()}"
    env = run_env(spec, run_id)
    if cluster is not None:
        env.update(cluster.driver_env)
        cmd = list(cmd) + cluster.overrides(env)
        written = json.loads((out / "command.json").read_text())
        (out / "command.json").write_text(json.dumps({**written, "command": cmd, "ray_cluster": cluster.address},
                                                     indent=1) + "\n")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=None if verbose else log, stderr=subprocess.STDOUT if not verbose else None,
                                env=env, cwd=str(out), start_new_session=True)
        seen = -1
        try:
            while proc.poll() is None:
                time.sleep(1.0)
                steps = read_log(verl_log)
                if progress is not None and steps and steps[-1]["step"] != seen:
                    seen = steps[-1]["step"]
                    progress(steps)
                if time.monotonic() - t0 > spec.timeout_s:
                    raise TrainingFailed(f"verl did not finish within {spec.timeout_s:.0f} s (see {log_path})")
        except BaseException:
            _end_group(proc, run_id)
            raise
        _end_group(proc, run_id)
    final = read_log(verl_log)
    if progress is not None and final and final[-1]["step"] != seen:
        progress(final)
    if proc.returncode != 0:
        raise TrainingFailed(f"verl exited with code {proc.returncode}: {_tail_error(log_path)} (full log: {log_path})")


def _end_group(proc: subprocess.Popen, run_id: str, grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, to every process of the run: its process group (verl's driver, Ray's
    raylet, GCS and the workers that inherit the group) and any process that carries the run's
    marker but left the group (Ray starts some in sessions of their own), so no cluster is left behind."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        for pid in marked_processes(run_id):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and (_group_alive(proc.pid) or marked_processes(run_id)):
            proc.poll()
            time.sleep(0.2)
    proc.poll()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def processes_where(proc_file: str, holds: Callable[[bytes], bool]) -> List[int]:
    """Live processes but this one whose ``/proc/<pid>/<proc_file>`` (``environ``, ``cmdline``) the
    test ``holds`` (Linux /proc; none elsewhere). A zombie has already exited and is not listed."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for e in entries:
        if not e.isdigit() or int(e) == os.getpid():
            continue
        try:
            with open(f"/proc/{e}/{proc_file}", "rb") as f:
                if holds(f.read()):
                    with open(f"/proc/{e}/stat", "rb") as st:
                        if st.read().rsplit(b")", 1)[-1].split()[0] != b"Z":
                            found.append(int(e))
        except OSError:
            continue  # gone, or not ours to read
    return found


def marked_processes(run_id: str) -> List[int]:
    """Live processes whose environment holds ``RUN_MARKER=run_id``."""
    needle = f"{RUN_MARKER}={run_id}".encode()
    return processes_where("environ", lambda environ: needle in environ.split(b"\0"))


def _tail_error(log_path: Path) -> str:
    """The last exception line of verl's log (what went wrong, in one line)."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        s = line.strip()
        if s and ("Error" in s.split(":")[0] or "Exception" in s.split(":")[0]) and not s.startswith("File "):
            return s[-400:]
    return lines[-1][-400:] if lines else "empty log"


def collect(spec: RunSpec, seconds: float, ks, majority) -> RunResult:
    """Merges verl's per-step log and the held-out evaluations into ``metrics.jsonl``."""
    from .heldout import summarize_dumps

    out = spec.out.resolve()
    steps = read_log(out / "verl_log.jsonl")
    held = summarize_dumps(out / "heldout", ks=ks, majority=majority, seed=spec.seed, task=spec.task)
    by_step = {h["step"]: h for h in held}
    with open(out / "metrics.jsonl", "w") as f:
        for rec in steps:
            row = dict(rec)
            h = by_step.get(rec["step"])
            if h is not None:
                row.update({f"heldout/{k}": v["mean"] for k, v in h["summary"].items()})
            f.write(json.dumps(row) + "\n")
    (out / "heldout.json").write_text(json.dumps(held, indent=1) + "\n")
    return RunResult(spec, seconds, steps, held)
