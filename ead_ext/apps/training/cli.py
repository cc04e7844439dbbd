"""`ead-ext train`: RLVR with EAD through verl's own trainer, on an embedded task or yours.

One run (default): EAD rollouts with TIS, ``--loss`` (GRPO by default) on verl's default V1 trainer
(``--trainer legacy`` for the other), ``--task``'s shipped tiny model (arithmetic by default), its
train split as verl data, its held-out split for evaluation. ``--compare`` trains the same setting once per method
(EAD with TIS, EAD without TIS, fixed tau 0.6 / 1.0 / 1.2; same seed, data, steps and budget) and
prints held-out Pass@1 / Pass@k / Worst@k / Majority@k with 95 % intervals at chosen steps.
Writes ``out/train/<run>/{metrics.jsonl,heldout.json,record.json,train.png,verl.log,command.json}``;
``--compare --seeds 0 1 2`` trains each method once per seed (``<method>-seed<k>``), and a
``--compare`` run again keeps the runs already finished with the same spec (resumable).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from ead_ext.schedule import PRESETS, Schedule

from ..schedule_args import add_schedule_args, apply_schedule_args
from ..tasks import SCHEDULES, TASKS
from .methods import LOSSES, default_compare_methods, parse_method
from .run import MANAGERS, RunSpec, TrainingFailed
from .train_one import run_one

__all__ = ["main", "build_parser", "run_one"]

QUICK = dict(steps=2, prompts_per_step=2, rollout_n=4, heldout_prompts=8, heldout_n=4, heldout_every=2)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ead-ext train", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--compare", action="store_true", help="train once per --methods and compare them")
    ap.add_argument("--method", default="ead", help="ead | ead-notis | tau=<x> (one run)")
    ap.add_argument("--methods", nargs="+", default=None,
                    help="--compare: the methods (default: ead ead-notis tau=0.6 tau=1.0 tau=1.2)")
    ap.add_argument("--loss", choices=sorted(LOSSES), default="grpo", help="EAD policy loss (TIS-corrected)")
    ap.add_argument("--trainer", choices=sorted(MANAGERS), default="v1", help="verl trainer: default V1 or legacy")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default 20)")
    ap.add_argument("--prompts-per-step", type=int, default=None, help="prompts per step (default 8)")
    ap.add_argument("--rollout-n", type=int, default=None, help="rollouts per prompt (default 8)")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--tis-cap", type=float, default=2.0, help="TIS truncation C")
    ap.add_argument("--heldout-every", type=int, default=None, help="held-out evaluation every K steps (default 10)")
    ap.add_argument("--heldout-prompts", type=int, default=None, help="held-out prompts (default 64)")
    ap.add_argument("--heldout-n", type=int, default=None, help="samples per held-out prompt (default 16)")
    ap.add_argument("--heldout-temperature", type=float, default=1.0,
                    help="sampling temperature of the held-out evaluation (the target policy: 1.0)")
    ap.add_argument("--task", choices=sorted(TASKS), default="arithmetic",
                    help="the verifier; without --model / --data also the tiny model, problems and schedule")
    ap.add_argument("--model", default=None, help="HF model directory (default: the task's shipped tiny model)")
    ap.add_argument("--data", default=None,
                    help="directory with train/test .parquet (verl format) or .jsonl ({prompt, answer})")
    ap.add_argument("--max-response-length", type=int, default=None, help="default 96 (tiny model), 1024 else")
    ap.add_argument("--max-prompt-length", type=int, default=None, help="default 32 (tiny model), 512 else")
    g = ap.add_argument_group("EAD schedule (ead_ext.Schedule fields; default: the task's (ead_ext.apps.tasks.SCHEDULES) "
                              "for the tiny model, the paper's for --model)")
    add_schedule_args(g)
    ap.add_argument("--seed", type=int, default=0,
                    help="data order, initial shuffle, rollout and held-out sampling seeds (verl's validation is "
                         "seeded per request from it)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None,
                    help="--compare: train every method once per seed (runs named <method>-seed<k>)")
    ap.add_argument("--no-shared-ray", action="store_true",
                    help="--compare: each run starts its own Ray cluster (default: the runs share one)")
    ap.add_argument("--ranks", type=int, default=1,
                    help="trainer ranks (verl's n_gpus_per_node; on the CPU: FSDP ranks over gloo, a vLLM server each)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke setting: 2 steps of 2 prompts x 4, held-out 8 prompts x 4 (CI)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds before a run is stopped (default: scaled)")
    ap.add_argument("--out", default="out/train", help="output directory (one subdirectory per run)")
    ap.add_argument("--name", default=None,
                    help="run name (default: <task>-<method>-<loss>-<trainer>, compare-<task> with --compare)")
    ap.add_argument("--verbose", action="store_true", help="show verl's and vLLM's own output")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                    help="extra verl Hydra override, applied last (repeatable)")
    return ap


def _schedule(args) -> Schedule:
    return apply_schedule_args(SCHEDULES[args.task] if args.model is None else PRESETS["small"], args)


def _spec(args, method, out: Path) -> RunSpec:
    tiny = args.model is None
    base = dict(steps=20, prompts_per_step=8, rollout_n=8, heldout_prompts=64, heldout_n=16, heldout_every=10)
    if args.quick:
        base.update(QUICK)
    for key in base:
        val = getattr(args, key)
        if val is not None:
            base[key] = val
    steps = base["steps"]
    timeout = args.timeout or (900.0 + 60.0 * steps)
    spec = RunSpec(out=out, method=method, schedule=_schedule(args), trainer=args.trainer, loss=args.loss,
                   lr=args.lr, tis_cap=args.tis_cap, task=args.task, model=args.model, data=args.data, seed=args.seed,
                   heldout_temperature=args.heldout_temperature, timeout_s=timeout, extra=list(args.override),
                   ranks=args.ranks,
                   max_prompt_length=args.max_prompt_length or (32 if tiny else 512),
                   max_response_length=args.max_response_length or (96 if tiny else 1024),
                   dtype="float32" if tiny else "bfloat16", **base)
    if args.quick:
        spec = replace(spec, train_prompts=64)
    return spec


def replace_seed(args, seed: int):
    """``args`` with ``seed`` (a copy: the namespace of the other runs is left as it is)."""
    return argparse.Namespace(**{**vars(args), "seed": seed})


def _exit_on_sigterm() -> None:
    """SIGTERM (a CI timeout, ``kill``) unwinds like Ctrl-C, so the run's process group is ended too."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _exit_on_sigterm()
    out = Path(args.out)
    try:
        if not args.compare:
            method = parse_method(args.method)
            name = args.name or f"{args.task}-{method.name.replace('=', '')}-{args.loss}-{args.trainer}"
            run_one(_spec(args, method, out / name), verbose=args.verbose, plot=not args.no_plot)
            return 0
        from .compare import compare

        methods = [parse_method(m) for m in args.methods] if args.methods else default_compare_methods()
        name = args.name or f"compare-{args.task}"
        if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
            raise ValueError(f"--seeds repeats a seed: {args.seeds}")
        seeded = [(m, s, f"{m.name.replace('=', '')}-seed{s}") for s in args.seeds for m in methods] if args.seeds \
            else [(m, args.seed, m.name.replace("=", "")) for m in methods]
        specs = [_spec(replace_seed(args, s), m, out / name / run) for m, s, run in seeded]
        compare(specs, out / name, verbose=args.verbose, plot=not args.no_plot, shared_ray=not args.no_shared_ray)
        return 0
    except (TrainingFailed, ValueError, FileNotFoundError) as e:
        print(f"ead-ext train: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"ead-ext train: needs verl, vLLM and transformers ({e}); run scripts/setup.sh", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
