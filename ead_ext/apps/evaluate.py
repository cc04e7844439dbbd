"""`ead-ext eval`: EAD against fixed temperatures on held-out problems, through vLLM.

For every prompt, N answers are sampled with each method: EAD (the schedule given by the
flags, through the vLLM integration, ``SamplingParams(temperature=1.0,
extra_args={"ead": {...}})``) and fixed temperatures (0.6, 1.0, 1.2 and tau_min by default).
Every answer is its own request. EAD requests each carry a seed derived from ``--seed``, the
prompt and the sample index (the fused op's counter-based stream: the draws do not depend on
the batch). Fixed-temperature requests draw from the engine's generator, seeded by
``--seed``: the whole run is reproducible, but a sample depends on its batch (``--seed-all``
seeds them one by one too; vLLM's own sampler then loops over per-request generators,
~2x slower on the CPU). Answers are scored by the verifier of ``--task`` (:mod:`ead_ext.apps.tasks`: ``arithmetic``'s
``####`` answer, integers compared by value, other answers as strings; ``countdown``'s derivation
checked step by step), and
the command computes Pass@k, Best@k, Worst@k (k in ``--ks``) and Majority@N (N in
``--majority``) per method as "mean [95 % CI]" over prompts (see :mod:`ead_ext.metrics`), prints
the schedule used, the columns that differ for 0/1 rewards (:func:`ead_ext.apps.tables.compact_table`)
and one verdict line per metric (the leader, and whether its interval overlaps the runner-up's),
writes the full table to ``table.md``, ``results.json`` (config, per-prompt metrics, per-position statistics) and a PNG with
the metrics against k / N and the per-position temperature and entropy. vLLM's own output goes
to ``OUT/vllm.log`` unless ``--verbose``.

The per-position entropy is estimated from the samples themselves: with the engine's
``logprobs_mode="processed_logprobs"`` each sampled token's log-prob is under the
distribution it was drawn from (softmax(logits / tau_t)), so the mean of -log p over the
answers still running at position t is an unbiased estimate of the mean entropy there
(no second forward pass).

Defaults: the task's tiny model shipped with the package (trained by :mod:`ead_ext.apps.tiny_model`)
on held-out problems of the task. Its EAD schedule is the task's
(:data:`ead_ext.apps.tasks.SCHEDULES`, sized to its answers by one stated rule: arithmetic d0 = 5,
countdown d0 = 2.5, no cutoff) instead of the paper's d0 = 25 (scaled for answers hundreds of
tokens long, where tau stays above 1.1 for the first 60 tokens). With ``--model`` the paper's
defaults apply (``--preset`` / flags change them). ``--tasks FILE`` reads JSONL lines
``{"prompt": ..., "answer": ...}``, scored by ``--task``'s verifier (for ``arithmetic``, the
model's answer must end with ``#### <answer>``; for ``countdown`` the answer is the problem,
``"3 5 7 2 -> 24"``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ead_ext import metrics as M
from ead_ext.schedule import PRESETS, Schedule

from .provenance import provenance
from .schedule_args import add_schedule_args, apply_schedule_args, describe_schedule
from .tables import cell, compact_table, md_table, paired, verdicts
from .tasks import SCHEDULES, TASKS, get_task
from .tasks.jsonl import load_tasks  # noqa: F401  (--tasks FILE; ead_ext.apps.evaluate.load_tasks stays importable)
from .vllm_engine import make_llm, quiet_engine

__all__ = ["main", "build_parser", "run", "format_table", "load_tasks", "Method"]

QUICK = dict(prompts=8, n=4, ks=[1, 4], majority=[1, 4])
FULL = dict(prompts=64, n=32, ks=[1, 4, 16], majority=[1, 4, 16, 32])


@dataclass
class Method:
    name: str
    temperature: Optional[float] = None  # fixed temperature, or None for EAD
    ead: Optional[dict] = None  # the extra_args["ead"] entry


@dataclass
class MethodResult:
    method: Method
    completions: List[List[str]] = field(default_factory=list)  # [prompt][sample]
    logprobs: List[List[List[float]]] = field(default_factory=list)  # [prompt][sample][position]
    seconds: float = 0.0


def _seed(base: int, prompt: int, sample: int) -> int:
    h = hashlib.sha256(f"{base}:{prompt}:{sample}".encode()).digest()
    return int.from_bytes(h[:8], "big") & ((1 << 63) - 1)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ead-ext eval", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--model", default=None, help="HF model directory or hub id (default: the shipped tiny model)")
    ap.add_argument("--task", choices=sorted(TASKS), default=None,
                    help="the task: its held-out problems, verifier, tiny model and schedule (default: each "
                         "embedded task in turn, with --model or --tasks: arithmetic)")
    ap.add_argument("--tasks", default=None, help="JSONL with prompt/answer, scored by --task's verifier "
                                                  "(default: --task's held-out problems)")
    ap.add_argument("--quick", action="store_true",
                    help=f"reduced setting for CI: {QUICK['prompts']} prompts, N={QUICK['n']}, k in {QUICK['ks']}")
    ap.add_argument("--prompts", type=int, default=None, help=f"number of prompts (default {FULL['prompts']})")
    ap.add_argument("--n", type=int, default=None, help=f"samples per prompt and method (default {FULL['n']})")
    ap.add_argument("--ks", type=int, nargs="+", default=None, help=f"k of Pass/Best/Worst@k (default {FULL['ks']})")
    ap.add_argument("--majority", type=int, nargs="+", default=None,
                    help=f"N of Majority@N (default {FULL['majority']})")
    ap.add_argument("--temperatures", type=float, nargs="*", default=[0.6, 1.0, 1.2],
                    help="fixed temperatures to compare (tau_min is added unless --no-tau-min)")
    ap.add_argument("--no-tau-min", action="store_true", help="do not add a fixed tau = tau_min baseline")
    ap.add_argument("--no-ead", action="store_true", help="only the fixed temperatures (no vLLM integration needed)")
    g = ap.add_argument_group("EAD schedule (ead_ext.Schedule fields; default: the task's for the tiny model, "
                              "else --preset)")
    g.add_argument("--preset", choices=sorted(PRESETS), default=None, help="default: small")
    add_schedule_args(g)
    g.add_argument("--step", type=int, default=0, help="global training step s (decay d0 + growth * s)")
    ap.add_argument("--max-tokens", type=int, default=None, help="answer length limit (default 96 tiny, 512 else)")
    ap.add_argument("--seed", type=int, default=0,
                    help="base seed of the engine, the sampling requests and the bootstrap")
    ap.add_argument("--seed-all", action="store_true",
                    help="give every fixed-temperature request its own seed too (batch-invariant draws; slower in "
                         "vLLM's own sampler); by default they draw from the engine's generator, seeded by --seed")
    ap.add_argument("--data-seed", type=int, default=0, help="seed of the generated held-out problems")
    ap.add_argument("--ci", choices=["bootstrap", "normal"], default="bootstrap")
    ap.add_argument("--chat-template", action="store_true", help="wrap prompts with the tokenizer's chat template")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--max-model-len", type=int, default=None, help="default 256 for the tiny model, else 4096")
    ap.add_argument("--out", default="out/eval", help="directory for results.json, table.md and eval.png")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--vllm-arg", action="append", default=[], metavar="KEY=JSON",
                    help="extra vllm.LLM keyword argument, e.g. --vllm-arg gpu_memory_utilization=0.5")
    ap.add_argument("--verbose", action="store_true",
                    help="show vLLM's own output (by default it goes to OUT/vllm.log) and per-method progress")
    return ap


def _base_schedule(args, tiny: bool) -> tuple:
    """The schedule the flags start from, and where it comes from (printed with the results)."""
    if args.preset is None and tiny:
        task = args.task or "arithmetic"
        return SCHEDULES[task], f"the {task} tiny model's (ead_ext.apps.tasks.SCHEDULES[{task!r}])"
    preset = args.preset or "small"
    return PRESETS[preset], f"preset {preset!r}"


def _schedule(args, tiny: bool) -> Schedule:
    return apply_schedule_args(_base_schedule(args, tiny)[0], args)


def _schedule_source(args, tiny: bool, sched: Schedule) -> str:
    base, source = _base_schedule(args, tiny)
    changed = [f"{k} {v}" if isinstance(v, str) else f"{k} {v:g}" for k, v in sched.to_dict().items()
               if getattr(base, k) != v]
    return source + (f" with {', '.join(changed)}" if changed else "")


def _methods(args, sched: Schedule) -> List[Method]:
    methods = []
    if not args.no_ead:
        methods.append(Method("EAD", None, dict(sched.to_dict(), step=args.step)))
    temps = list(args.temperatures)
    if not args.no_tau_min and all(abs(t - sched.tau_min) > 1e-9 for t in temps):
        temps.append(sched.tau_min)
    for t in temps:
        methods.append(Method(f"tau={t:g}", float(t)))
    if not methods:
        raise SystemExit("ead-ext eval: nothing to compare (no EAD and no temperatures)")
    return methods


def _make_llm(model: str, args, max_model_len: int, need_ead: bool):
    extra = {}
    for kv in args.vllm_arg:
        k, _, v = kv.partition("=")
        try:
            extra[k] = json.loads(v)
        except json.JSONDecodeError:
            extra[k] = v
    return make_llm(model, seed=args.seed, dtype=args.dtype, max_model_len=max_model_len, ead=need_ead, **extra)


def _sample(llm, prompts: List[str], methods: List[Method], n: int, seed: int,
            max_tokens: int, seed_all: bool = False) -> List[MethodResult]:
    """All methods' requests in one ``generate`` call (EAD and plain rows share batches)."""
    from vllm import SamplingParams

    params, expanded = [], []
    for m in methods:
        for i, prompt in enumerate(prompts):
            for j in range(n):
                # EAD rows: a seed per request (the fused op's Philox stream: free, batch-invariant);
                # fixed-temperature rows: the engine's seeded generator unless seed_all (vLLM's CPU
                # sampler draws seeded rows one torch.Generator at a time: ~2x slower)
                rs = _seed(seed, i, j) if (m.ead is not None or seed_all) else None
                kw = dict(n=1, max_tokens=max_tokens, seed=rs, logprobs=0)
                if m.ead is not None:
                    from ead_ext.integrations.vllm.params import EAD_KEY

                    kw.update(temperature=1.0, extra_args={EAD_KEY: dict(m.ead)})
                else:
                    kw.update(temperature=m.temperature)
                params.append(SamplingParams(**kw))
                expanded.append(prompt)
    t0 = time.perf_counter()
    outs = llm.generate(expanded, params, use_tqdm=False)
    seconds = time.perf_counter() - t0
    results, it = [], iter(outs)
    for m in methods:
        res = MethodResult(m, seconds=seconds)
        for _ in prompts:
            texts, lps = [], []
            for _ in range(n):
                c = next(it).outputs[0]
                texts.append(c.text)
                lp = []
                for tok, d in zip(c.token_ids, c.logprobs or []):
                    entry = d.get(tok) if d else None
                    lp.append(float(entry.logprob) if entry is not None else float("nan"))
                lps.append(lp)
            res.completions.append(texts)
            res.logprobs.append(lps)
        results.append(res)
    return results


def _per_position(res: MethodResult, sched: Schedule, step: int, max_tokens: int) -> Dict[str, list]:
    import math

    sums, counts = [0.0] * max_tokens, [0] * max_tokens
    for per_prompt in res.logprobs:
        for lp in per_prompt:
            for t, v in enumerate(lp[:max_tokens]):
                if math.isfinite(v):
                    sums[t] -= v
                    counts[t] += 1
    T = max((t + 1 for t in range(max_tokens) if counts[t]), default=0)
    if res.method.ead is not None:
        temps = [float(x) for x in sched.temperature(list(range(T)), step=step)] if T else []
    else:
        temps = [res.method.temperature] * T
    return {"temperature": temps, "entropy": [sums[t] / counts[t] if counts[t] else None for t in range(T)],
            "alive": counts[:T]}


def run(args) -> dict:
    """One comparison: the sizes, the prompts and model, the engine, every method's samples, scored."""
    tiny = args.model is None
    size = _sizes(args, tiny)
    verifier = get_task(args.task)
    tasks, model = _tasks_and_model(args, tiny, size["prompts"], verifier)
    n, max_tokens = size["n"], size["max_tokens"]
    sched = _schedule(args, tiny)
    methods = _methods(args, sched)
    verbose = getattr(args, "verbose", False)
    log = Path(args.out) / "vllm.log"
    print(f"task {args.task} | model {model} | {len(tasks)} prompts x N = {n} per method | seed {args.seed}",
          flush=True)
    if not args.no_ead:
        print(f"EAD schedule: {_schedule_source(args, tiny, sched)}\n  "
              f"{describe_schedule(sched, args.step, max_tokens, sep=chr(10) + '  ')} (of {max_tokens} tokens)",
              flush=True)
    print("starting vLLM" + ("" if verbose else f" (its log: {log})") + " ...", flush=True)

    t_start = time.perf_counter()
    with quiet_engine(log, verbose):
        llm = _make_llm(model, args, size["max_model_len"], need_ead=any(m.ead is not None for m in methods))
    t_engine = time.perf_counter() - t_start
    prompts = [t["prompt"] for t in tasks]
    if args.chat_template:
        tok = llm.get_tokenizer()
        prompts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                           add_generation_prompt=True) for p in prompts]
    results = {"config": {"model": model, "task": args.task,
                          "tasks": args.tasks or f"{args.task} held-out (seed {args.data_seed})",
                          "prompts": len(tasks), "n": n, "ks": size["ks"], "majority": size["majority"],
                          "max_tokens": max_tokens, "seed": args.seed, "seed_all": args.seed_all, "ci": args.ci,
                          "schedule": sched.to_dict(), "schedule_source": _schedule_source(args, tiny, sched),
                          "step": args.step,
                          "quick": args.quick, "engine_seconds": round(t_engine, 2)},
               "provenance": provenance(getattr(args, "argv", None)),
               "methods": {}}
    print(f"sampling {len(prompts) * n * len(methods)} answers: {len(methods)} methods x {len(prompts)} prompts x "
          f"N = {n} (one vLLM generate call) ...", flush=True)
    with quiet_engine(log, verbose):
        sampled = _sample(llm, prompts, methods, n, args.seed, max_tokens, args.seed_all)
    results["config"]["sampling_seconds"] = round(sampled[0].seconds, 2)
    for m, res in zip(methods, sampled):
        entry, summary = _scored(m, res, tasks, verifier, size, args, sched)
        results["methods"][m.name] = entry
        if verbose:
            print(f"  {m.name:>10s}: {len(tasks) * n} answers, {entry['tokens']} tokens; Pass@1 {summary['pass@1']}",
                  flush=True)
    results["config"]["total_seconds"] = round(time.perf_counter() - t_start, 2)
    return results


def _sizes(args, tiny: bool) -> dict:
    """Prompts, N, the k of Pass@k and the N of Majority@N (none above N), tokens and context length."""
    mode = QUICK if args.quick else FULL
    n = args.n or mode["n"]
    ks = [k for k in (args.ks or mode["ks"]) if k <= n]
    if not ks:
        raise SystemExit(f"ead-ext eval: every k exceeds N = {n}")
    return dict(prompts=args.prompts or mode["prompts"], n=n, ks=ks,
                majority=[m for m in (args.majority or mode["majority"]) if m <= n],
                max_tokens=args.max_tokens or (96 if tiny else 512),
                max_model_len=args.max_model_len or (256 if tiny else 4096))


def _tasks_and_model(args, tiny: bool, n_prompts: int, verifier) -> tuple:
    """The problems (``--tasks`` FILE or the task's held-out ones) and the model (default: the task's tiny one)."""
    if args.tasks:
        tasks = load_tasks(args.tasks, n_prompts, task=args.task)
    else:
        tasks = [{"prompt": p.prompt, "answer": p.answer}
                 for p in verifier.generate(n_prompts, "test", seed=args.data_seed)]
    if not tiny:
        return tasks, args.model
    from .tiny_model import default_model_path

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local checkpoint: never ask the Hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return tasks, str(default_model_path(task=args.task))


def _scored(method, res, tasks, verifier, size: dict, args, sched) -> tuple:
    """One method's answers scored per prompt and summarized with intervals: (its results entry, the summary)."""
    per_prompt = []
    for task, comps in zip(tasks, res.completions):
        scored = [verifier.score(c, task["answer"]) for c in comps]
        answers = [a for a, _ in scored]
        rewards = [r for _, r in scored]
        pm = M.prompt_metrics(rewards, answers, ks=size["ks"], ns=size["majority"], seed=args.seed)
        pm["malformed"] = sum(a is None for a in answers) / len(answers)
        per_prompt.append(pm)
    summary = M.summarize(per_prompt, method=args.ci, seed=args.seed)
    entry = {
        "temperature": method.temperature, "ead": method.ead,
        "tokens": sum(len(lp) for pp in res.logprobs for lp in pp),
        "summary": {k: v.to_dict() for k, v in summary.items()}, "per_prompt": per_prompt,
        "positions": _per_position(res, sched, args.step, size["max_tokens"]),
        "examples": [{"prompt": tasks[0]["prompt"], "answer": tasks[0]["answer"],
                      "completions": res.completions[0][:3]}],
    }
    return entry, summary


def _metric_columns(results) -> List[str]:
    cfg = results["config"]
    cols = []
    for k in cfg["ks"]:
        cols += [f"pass@{k}", f"best@{k}", f"worst@{k}"]
    cols += [f"maj@{m}" for m in cfg["majority"]]
    return cols + ["malformed"]


def format_table(results: dict) -> str:
    """The full Markdown table (written to table.md): one row per method, "mean [lo, hi]" per metric."""
    cols = _metric_columns(results)
    rows = [[name] + [cell(r["summary"][c]) if c in r["summary"] else "-" for c in cols]
            for name, r in results["methods"].items()]
    return md_table(["method"] + cols, rows)


def plot(results: dict, path: Path) -> Path:
    from .plots import _pyplot

    plt = _pyplot()
    cfg = results["config"]
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    panels = [("pass", cfg["ks"], "Pass@k (= Best@k: 0/1 rewards)", "k"), ("worst", cfg["ks"], "Worst@k", "k"),
              ("maj", cfg["majority"], "Majority@N", "N")]
    for ax, (key, xs, title, xl) in zip(axes[0], panels):
        for i, (name, r) in enumerate(results["methods"].items()):
            s = r["summary"]
            ys = [s[f"{key}@{x}"] for x in xs]
            mean = [y["mean"] for y in ys]
            err = [[y["mean"] - y["lo"] for y in ys], [y["hi"] - y["mean"] for y in ys]]
            ax.errorbar([x * (1 + 0.03 * (i - 2)) for x in xs], mean, yerr=err, marker="o", capsize=3, label=name,
                        lw=2.2 if r["ead"] else 1.2)
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlabel(xl)
        ax.set_title(f"{title} (mean over {cfg['prompts']} prompts, {int(100 * 0.95)} % CI)", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    ax_t, ax_h, ax_a = axes[1]
    for name, r in results["methods"].items():
        pos = r["positions"]
        lw = 2.2 if r["ead"] else 1.2
        ax_t.plot(range(len(pos["temperature"])), pos["temperature"], label=name, lw=lw)
        ent = [e if e is not None else float("nan") for e in pos["entropy"]]
        ax_h.plot(range(len(ent)), ent, label=name, lw=lw)
        ax_a.plot(range(len(pos["alive"])), pos["alive"], label=name, lw=lw)
    ax_t.set_title("temperature per position", fontsize=9)
    ax_h.set_title("entropy of the sampling distribution per position (mean -log p of drawn tokens)", fontsize=9)
    ax_a.set_title("answers still running per position", fontsize=9)
    for ax in axes[1]:
        ax.set_xlabel("t (answer tokens generated so far)")
        ax.grid(alpha=0.3)
    ax_t.legend(fontsize=8)
    sch = cfg["schedule"]
    fig.suptitle(f"EAD vs fixed temperature: {Path(cfg['model']).name}, N = {cfg['n']}, seed {cfg['seed']}; EAD "
                 f"tau_max {sch['tau_max']}, tau_min {sch['tau_min']}, d0 {sch['d0']:g}, cutoff {sch['cutoff']}, "
                 f"k {sch['token_scale']:g}, step {cfg['step']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def standing_line(results: dict) -> str:
    """Where EAD stands on one run: EAD minus the best fixed temperature (named) at Pass@1 and at the
    largest Pass@k, each a paired difference over prompts with its interval (one seed: a verdict needs
    more)."""
    methods = results["methods"]
    if "EAD" not in methods:
        return f"{results['config']['task']}: no EAD run"
    fixed = [n for n, r in methods.items() if r.get("temperature") is not None]
    parts = []
    for col in dict.fromkeys(["pass@1", f"pass@{max(results['config']['ks'])}"]):
        best = max(fixed, key=lambda n: methods[n]["summary"][col]["mean"])
        est = paired([p[col] for p in methods["EAD"]["per_prompt"]], [p[col] for p in methods[best]["per_prompt"]])
        side = "ahead" if est.lo > 0 else "behind" if est.hi < 0 else "level"
        parts.append(f"{col} ({best}) {est.mean:+.2f} [{est.lo:+.2f}, {est.hi:+.2f}] {side}")
    return f"{results['config']['task']}: " + "; ".join(parts)


def _each_task(argv: List[str], out: Path) -> int:
    """``ead-ext eval`` without --task: each embedded task in its own process (one vLLM engine each),
    then one line per task on where EAD stands."""
    import subprocess

    lines = []
    for task in sorted(TASKS):
        print(f"== {task}", flush=True)
        task_out = out / task
        rc = subprocess.call([sys.executable, "-m", "ead_ext", "eval", "--task", task, "--out", str(task_out), *argv])
        if rc != 0:
            return rc
        lines.append(standing_line(json.loads((task_out / "results.json").read_text())))
    print("\nwhere EAD stands: EAD minus the best fixed temperature (named), paired over prompts\n"
          "(this seed only; over three seeds: docs/RESULTS.md):")
    for line in lines:
        print("  " + line)
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = ["eval"] + argv  # for the provenance record
    out = Path(args.out)
    if args.task is None:
        if args.model is None and args.tasks is None:
            rest = [a for i, a in enumerate(argv) if a != "--out" and (i == 0 or argv[i - 1] != "--out")
                    and not a.startswith("--out=")]
            return _each_task(rest, out)
        args.task = "arithmetic"
    try:
        results = run(args)
    except ImportError as e:
        print(f"ead-ext eval: needs vLLM and transformers ({e})", file=sys.stderr)
        return 2
    table = format_table(results)
    cfg = results["config"]
    print(f"\nmean [{cfg['ci']} 95 % interval] over {cfg['prompts']} prompts; without the columns equal for 0/1 "
          f"rewards (all in table.md)\n")
    print(compact_table(results, terminal=True) + "\n")
    for line in verdicts(results):
        print(line)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "table.md").write_text(table + "\n")
    wrote = [str(out / "results.json"), str(out / "table.md")]
    if not args.no_plot:
        wrote.append(str(plot(results, out / "eval.png")))
    print(f"\nwrote {', '.join(wrote)}\nengine {cfg['engine_seconds']:.1f} s, sampling {cfg['sampling_seconds']:.1f} s, "
          f"total {cfg['total_seconds']:.1f} s; paired differences: python -m ead_ext.apps.results eval {out}")
    print(standing_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
