"""``ead-ext generate``: look at EAD samples of a model through vLLM, position by position.

Starts an in-process vLLM engine with the EAD sampler installed and
``logprobs_mode="processed_logprobs"`` on ``--model`` (default: ``--task``'s tiny model shipped with
the package, :func:`ead_ext.apps.tiny_model.default_model_path`, on three of its held-out problems), samples
``--n`` answers per prompt with EAD (default: the schedule ``ead-ext eval`` uses for that model,
:data:`ead_ext.apps.tasks.SCHEDULES`, which anneals from tau_max to tau_min within the default 96
tokens; ``--preset`` / the schedule flags change it) and, for comparison, at a fixed temperature,
and prints

* per output position t: the scheduled tau_t, the mean behaviour log-prob of the sampled tokens
  (log softmax(logits / tau_t)), the rate of argmax tokens and the number of distinct tokens
  across the samples, for EAD and the fixed temperature;
* a diversity summary: distinct-1/2 over all samples, mean pairwise token difference, and the
  early/late argmax rates.

``--json PATH`` writes all of it (and the samples) as JSON. vLLM's own output goes to a log file
unless ``--verbose``. For metrics (Pass@k, ...) use ``ead-ext eval``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

from ead_ext.schedule import PRESETS, Schedule

from .schedule_args import add_schedule_args, apply_schedule_args, describe_schedule
from .tasks import SCHEDULES, TASKS, get_task

__all__ = ["main", "build_parser"]

DEFAULT_PROMPTS = 3  # held-out problems of --task when no --prompt is given


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ead-ext generate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=None,
                   help="model directory or hub id for vLLM; default: --task's tiny model shipped with the package")
    p.add_argument("--task", choices=sorted(TASKS), default="arithmetic",
                   help="without --model: the tiny model, its schedule and (without --prompt) its held-out problems")
    p.add_argument("--prompt", action="append", default=None,
                   help=f"a prompt (repeat for several); default: {DEFAULT_PROMPTS} held-out problems of --task")
    p.add_argument("--n", type=int, default=16, help="samples per prompt")
    p.add_argument("--max-tokens", type=int, default=96, help="tokens per sample (EOS ignored)")
    g = p.add_argument_group("EAD schedule (ead_ext.Schedule fields; default: the task's for the tiny model, "
                             "else --preset)")
    g.add_argument("--preset", choices=sorted(PRESETS), default=None, help="default: small")
    add_schedule_args(g)
    g.add_argument("--step", type=int, default=0, help="global training step s (decay d_s = min(d0 + growth*s, cap))")
    p.add_argument("--compare-temperature", type=float, default=1.0,
                   help="fixed temperature of the comparison samples (0 skips them)")
    p.add_argument("--seed", type=int, default=0, help="base seed (request seeds are seed, seed+1, ...)")
    p.add_argument("--dtype", default="auto", help="vLLM dtype (the tiny model uses float32)")
    p.add_argument("--max-model-len", type=int, default=None, help="vLLM max_model_len")
    p.add_argument("--json", default=None, help="write the report and samples to this JSON file")
    p.add_argument("--every", type=int, default=0, help="print every k-th position (0: about 24 rows)")
    p.add_argument("--verbose", action="store_true", help="show vLLM's own output (by default it goes to a log file)")
    return p


def _schedule(args) -> Schedule:
    if args.preset is None and args.model is None:
        return apply_schedule_args(SCHEDULES[args.task], args)
    return apply_schedule_args(PRESETS[args.preset or "small"], args)


def _collect(outputs):
    samples = []
    for o in outputs:
        for c in o.outputs:
            toks = list(c.token_ids)
            lps = [d[t].logprob for d, t in zip(c.logprobs, toks)] if c.logprobs else []
            ranks = [d[t].rank for d, t in zip(c.logprobs, toks)] if c.logprobs else []
            samples.append(dict(prompt=o.prompt, tokens=toks, logprobs=lps, ranks=ranks, text=c.text))
    return samples


def _per_position(samples, groups, T):
    rows = []
    for t in range(T):
        at = [s for s in samples if len(s["tokens"]) > t]
        if not at:
            break
        distinct = sum(len({s["tokens"][t] for s in g if len(s["tokens"]) > t}) for g in groups)
        rows.append(dict(t=t,
                         mean_logprob=sum(s["logprobs"][t] for s in at) / len(at),
                         argmax_rate=sum(s["ranks"][t] == 1 for s in at) / len(at),
                         distinct=distinct / max(len(groups), 1)))
    return rows


def _diversity(samples, groups):
    def ngrams(tokens, n):
        return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]

    d = {}
    for n in (1, 2):
        vals = []
        for g in groups:
            grams = [x for s in g for x in ngrams(s["tokens"], n)]
            vals.append(len(set(grams)) / max(len(grams), 1))
        d[f"distinct_{n}"] = sum(vals) / len(vals)
    diffs = []
    for g in groups:
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                a, b = g[i]["tokens"], g[j]["tokens"]
                L = min(len(a), len(b))
                if L:
                    diffs.append(sum(x != y for x, y in zip(a[:L], b[:L])) / L)
    d["pairwise_token_difference"] = sum(diffs) / len(diffs) if diffs else 0.0
    T = max(len(s["tokens"]) for s in samples)
    q = max(T // 4, 1)
    for name, rng in (("early", range(0, q)), ("late", range(T - q, T))):
        xs = [s["ranks"][t] == 1 for s in samples for t in rng if t < len(s["ranks"])]
        d[f"argmax_rate_{name}"] = sum(xs) / max(len(xs), 1)
    d["mean_logprob"] = sum(sum(s["logprobs"]) for s in samples) / max(sum(len(s["logprobs"]) for s in samples), 1)
    return d


def main(argv: Optional[List[str]] = None) -> int:
    """``ead-ext generate``: the schedule, the model and prompts, the samples (vLLM), the report."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        sched = _schedule(args)
        sched.at_step(args.step)
    except (TypeError, ValueError) as e:
        print(f"ead-ext generate: {e}", file=sys.stderr)
        return 2
    model, dtype, max_model_len, prompts = _model_and_prompts(args)
    print(f"model {model}; {len(prompts)} prompt(s) x n = {args.n}, {args.max_tokens} tokens each (EOS ignored)")
    print(f"EAD schedule: {describe_schedule(sched, args.step, args.max_tokens)}", flush=True)
    if importlib.util.find_spec("vllm") is None:
        print("ead-ext generate: vLLM is not installed; see requirements/vllm.txt", file=sys.stderr)
        return 2
    ead_out, base_out = _sample(args, sched, model, dtype, max_model_len, prompts)
    report = _report(args, sched, model, prompts, ead_out, base_out)
    _print_report(args, sched, report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"report written to {args.json}")
    return 0


def _model_and_prompts(args) -> tuple:
    """The model (default: the task's tiny model, float32, offline) and the prompts (default: three of
    the task's held-out problems)."""
    model, dtype, max_model_len, prompts = args.model, args.dtype, args.max_model_len, args.prompt
    if model is None:
        from .tiny_model import default_model_path

        model = str(default_model_path(task=args.task))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local checkpoint: never ask the Hub
        dtype, max_model_len = "float32", max_model_len or 256
    if prompts is None:
        prompts = [p.prompt for p in get_task(args.task).generate(DEFAULT_PROMPTS, "test", seed=0)]
    return model, dtype, max_model_len, prompts


def _sample(args, sched: Schedule, model: str, dtype, max_model_len, prompts: List[str]) -> tuple:
    """n samples per prompt with EAD and (unless --compare-temperature 0) at the fixed temperature."""
    from .vllm_engine import make_llm, quiet_engine

    with quiet_engine(None, args.verbose):  # vLLM prints from its import on
        from vllm import SamplingParams

        from ead_ext.integrations.vllm.params import EAD_KEY

        ead_dict = dict(sched.to_dict(), step=args.step)
        common = dict(n=args.n, max_tokens=args.max_tokens, logprobs=0, ignore_eos=True)
        ead_params = [SamplingParams(seed=args.seed + 1000 * i, extra_args={EAD_KEY: ead_dict}, **common)
                      for i in range(len(prompts))]
        base_params = [SamplingParams(seed=args.seed + 1000 * i + 500, temperature=args.compare_temperature,
                                      **common) for i in range(len(prompts))] if args.compare_temperature > 0 else None
        llm = make_llm(model, seed=args.seed, dtype=dtype, max_model_len=max_model_len)
        ead_out = _collect(llm.generate(prompts, ead_params, use_tqdm=False))
        base_out = _collect(llm.generate(prompts, base_params, use_tqdm=False)) if base_params else None
    return ead_out, base_out


def _report(args, sched: Schedule, model: str, prompts: List[str], ead_out, base_out) -> dict:
    """Per-position statistics and diversity of each method's samples (what --json writes)."""
    report = dict(model=model, schedule=sched.to_dict(), step=args.step, decay=sched.at_step(args.step),
                  prompts=prompts, n=args.n, max_tokens=args.max_tokens)
    for key, out in (("ead", ead_out), ("fixed", base_out)):
        if out is None:
            continue
        groups = [out[i * args.n:(i + 1) * args.n] for i in range(len(prompts))]
        report[key] = dict(per_position=_per_position(out, groups, args.max_tokens),
                           diversity=_diversity(out, groups), samples=out)
        if key == "fixed":
            report[key] = dict(temperature=args.compare_temperature, **report[key])
    return report


def _print_report(args, sched: Schedule, report: dict) -> None:
    import torch

    T = args.max_tokens
    taus = sched.temperature(torch.arange(T), step=args.step).tolist()
    pos = report["ead"]["per_position"]
    base_pos = report["fixed"]["per_position"] if "fixed" in report else None
    print("\nper position: logp = behaviour log-prob of the drawn token, log softmax(logits / tau_t); argmax = rate\n"
          "of the most likely token; distinct = different tokens across a prompt's samples\n")
    every = args.every or max(1, T // 24)
    head = f"{'t':>4} {'tau_t':>7} | {'EAD logp':>9} {'argmax':>7} {'distinct':>8}"
    if base_pos:
        head += f" | {'fixed logp':>10} {'argmax':>7} {'distinct':>8}   (fixed tau={args.compare_temperature})"
    print(head)
    for i, r in enumerate(pos):
        if i % every and i != len(pos) - 1:
            continue
        line = f"{r['t']:>4} {taus[i]:>7.3f} | {r['mean_logprob']:>9.3f} {r['argmax_rate']:>7.2f} {r['distinct']:>8.1f}"
        if base_pos:
            b = base_pos[i]
            line += f" | {b['mean_logprob']:>10.3f} {b['argmax_rate']:>7.2f} {b['distinct']:>8.1f}"
        print(line)
    print("\ndiversity (per prompt, averaged):")
    keys = ["distinct_1", "distinct_2", "pairwise_token_difference", "argmax_rate_early", "argmax_rate_late",
            "mean_logprob"]
    print(f"  {'':28} {'EAD':>8}" + (f" {'fixed':>8}" if base_pos else ""))
    for k in keys:
        line = f"  {k:28} {report['ead']['diversity'][k]:>8.3f}"
        if base_pos:
            line += f" {report['fixed']['diversity'][k]:>8.3f}"
        print(line)
    print(f"\nexample EAD sample for {report['prompts'][0]!r}:", repr(report["ead"]["samples"][0]["text"][:120]))


if __name__ == "__main__":
    sys.exit(main())
