"""``ead-ext generate``: EAD rollouts through vLLM, with a per-position and diversity report.

Builds (once, cached) a tiny random Llama when no ``--model`` is given, starts an in-process vLLM
engine with the EAD sampler installed and ``logprobs_mode="processed_logprobs"``, samples ``--n``
answers per prompt with EAD and, for comparison, at a fixed temperature, and prints

* per output position t: the scheduled tau_t, the mean behaviour log-prob of the sampled tokens
  (log softmax(logits / tau_t)), the rate of argmax tokens and the number of distinct tokens
  across the samples, for EAD and the fixed temperature;
* a diversity summary: distinct-1/2 over all samples, mean pairwise token difference, and the
  early/late argmax rates.

``--json PATH`` writes all of it (and the samples) as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

__all__ = ["main", "build_parser"]

DEFAULT_PROMPTS = [
    "Question: what is 12 plus 30? Answer:",
    "The quick brown fox",
    "Solve for x: 2x + 3 = 7.",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ead-ext generate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=None,
                   help="model directory or hub id for vLLM; default: a tiny random Llama built locally")
    p.add_argument("--prompt", action="append", default=None,
                   help="a prompt (repeat for several); default: three built-in prompts")
    p.add_argument("--n", type=int, default=16, help="samples per prompt")
    p.add_argument("--max-tokens", type=int, default=48, help="tokens per sample (EOS ignored)")
    p.add_argument("--preset", choices=["small", "large"], default="small", help="EAD schedule preset")
    for name, typ in (("tau-max", float), ("tau-min", float), ("d0", float), ("growth", float), ("cap", float),
                      ("cutoff", int), ("token-scale", float)):
        p.add_argument(f"--{name}", type=typ, default=None, help=f"override the preset's {name.replace('-', '_')}")
    p.add_argument("--step", type=int, default=0, help="global training step s (decay d_s = min(d0 + growth*s, cap))")
    p.add_argument("--compare-temperature", type=float, default=1.0,
                   help="fixed temperature of the comparison samples (0 skips them)")
    p.add_argument("--seed", type=int, default=0, help="base seed (request seeds are seed, seed+1, ...)")
    p.add_argument("--dtype", default="auto", help="vLLM dtype (the tiny model uses float32)")
    p.add_argument("--max-model-len", type=int, default=None, help="vLLM max_model_len")
    p.add_argument("--json", default=None, help="write the report and samples to this JSON file")
    p.add_argument("--every", type=int, default=0, help="print every k-th position (0: about 24 rows)")
    return p


def _tiny_model_dir() -> str:
    from ead_ext.integrations.vllm.tiny_model import ensure_tiny_model

    cache = Path(os.environ.get("EAD_EXT_CACHE", Path.home() / ".cache" / "ead_ext")) / "vllm_tiny_random"
    return ensure_tiny_model(cache)


def _ead_dict(args) -> dict:
    d = {"preset": args.preset, "step": args.step}
    for key in ("tau_max", "tau_min", "d0", "growth", "cap", "cutoff", "token_scale"):
        v = getattr(args, key)
        if v is not None:
            d[key] = v
    return d


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
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from ead_ext.integrations.vllm import parse_ead_args

    ead_dict = _ead_dict(args)
    try:
        ead = parse_ead_args({"ead": ead_dict})
    except ValueError as e:
        print(f"ead-ext generate: {e}", file=sys.stderr)
        return 2

    model, dtype, max_model_len = args.model, args.dtype, args.max_model_len
    if model is None:
        print("ead-ext generate: no --model given; using a tiny random Llama (built once, cached)", flush=True)
        model = _tiny_model_dir()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        dtype, max_model_len = "float32", max_model_len or 256

    try:
        from vllm import SamplingParams
    except ImportError as e:
        print(f"ead-ext generate: vLLM is not installed ({e}); see requirements/vllm.txt", file=sys.stderr)
        return 2
    from .engine import make_llm

    llm = make_llm(model, seed=args.seed, dtype=dtype, max_model_len=max_model_len)

    prompts = args.prompt or DEFAULT_PROMPTS
    common = dict(n=args.n, max_tokens=args.max_tokens, logprobs=0, ignore_eos=True)
    ead_params = [SamplingParams(seed=args.seed + 1000 * i, extra_args={"ead": ead_dict}, **common)
                  for i in range(len(prompts))]
    ead_out = _collect(llm.generate(prompts, ead_params, use_tqdm=False))
    groups = [ead_out[i * args.n:(i + 1) * args.n] for i in range(len(prompts))]
    report = dict(model=model, schedule=ead.schedule.to_dict(), step=args.step, decay=ead.decay,
                  prompts=prompts, n=args.n, max_tokens=args.max_tokens)

    import torch

    T = args.max_tokens
    taus = ead.temperature(torch.arange(T)).tolist()
    pos = _per_position(ead_out, groups, T)
    report["ead"] = dict(per_position=pos, diversity=_diversity(ead_out, groups), samples=ead_out)
    base_pos = None
    if args.compare_temperature > 0:
        base_params = [SamplingParams(seed=args.seed + 1000 * i + 500, temperature=args.compare_temperature,
                                      **common) for i in range(len(prompts))]
        base_out = _collect(llm.generate(prompts, base_params, use_tqdm=False))
        bgroups = [base_out[i * args.n:(i + 1) * args.n] for i in range(len(prompts))]
        base_pos = _per_position(base_out, bgroups, T)
        report["fixed"] = dict(temperature=args.compare_temperature, per_position=base_pos,
                               diversity=_diversity(base_out, bgroups), samples=base_out)

    s = ead.schedule
    print(f"\nEAD schedule: tau_max={s.tau_max} tau_min={s.tau_min} d0={s.d0} growth={s.growth} cap={s.cap} "
          f"cutoff={s.cutoff} token_scale={s.token_scale}; step={args.step} -> d_s={ead.decay}")
    print(f"model: {model}; {len(prompts)} prompt(s) x n={args.n}, {T} tokens each; log-probs are behaviour "
          f"log-probs (processed_logprobs)\n")
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
    print("\nexample EAD sample:", repr(ead_out[0]["text"][:120]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"report written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
