"""`ead-ext demo`: annealed decoding on a synthetic language model, no download.

A seeded bigram model with a Zipf prior over the vocabulary stands in for an LM
(peaked, heavy-tailed rows like real logits). B sequences are decoded for T
tokens with the fused op, the temperature coming from the EAD schedule at each
row's position; the run prints, per position bucket, the temperature, the
entropy of the tempered distribution, the behaviour and target (tau = 1)
log-probs of the drawn tokens and how many distinct tokens the sequences drew,
then writes the schedule/entropy plot.
"""
from __future__ import annotations

import argparse
import time

import torch

from ead_ext import sample
from ead_ext.schedule import Schedule


class BigramLM:
    """Logits(prev) = zipf prior + context term; deterministic for a seed."""

    def __init__(self, vocab: int, dim: int = 64, seed: int = 0, sharpness: float = 4.0):
        g = torch.Generator().manual_seed(seed)
        rank = torch.randperm(vocab, generator=g).float() + 1.0
        self.prior = -1.1 * torch.log(rank)
        self.emb = torch.randn(vocab, dim, generator=g) / dim**0.5
        self.out = torch.randn(vocab, dim, generator=g) * sharpness / dim**0.5 * 2.0

    def logits(self, prev: torch.Tensor) -> torch.Tensor:
        return self.prior + self.emb[prev] @ self.out.T


def run(batch: int, length: int, vocab: int, schedule: Schedule, step: int, seed: int, dtype: torch.dtype):
    lm = BigramLM(vocab, seed=seed)
    prev = torch.randint(0, vocab, (batch,), generator=torch.Generator().manual_seed(seed + 1))
    seeds = torch.arange(batch, dtype=torch.long) + 1000 * seed
    cols = {k: [] for k in ("tau", "entropy", "logprob", "target", "tokens")}
    t0 = time.perf_counter()
    for t in range(length):
        logits = lm.logits(prev).to(dtype)
        pos = torch.full((batch,), t, dtype=torch.long)
        out = sample(logits, positions=pos, schedule=schedule, step=step, seeds=seeds,
                     return_target_logprobs=True, return_entropy=True)
        cols["tau"].append(schedule.temperature(pos[:1], step=step))
        cols["entropy"].append(out.entropy)
        cols["logprob"].append(out.logprobs)
        cols["target"].append(out.target_logprobs)
        cols["tokens"].append(out.tokens)
        prev = out.tokens
    elapsed = time.perf_counter() - t0
    return {k: torch.stack(v, dim=1) for k, v in cols.items()}, elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="ead-ext demo", description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64, help="sequences decoded together")
    ap.add_argument("--length", type=int, default=512, help="tokens per sequence")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--step", type=int, default=0, help="global training step (decay = d0 + growth * step)")
    ap.add_argument("--tau-max", type=float, default=1.2)
    ap.add_argument("--tau-min", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="bfloat16")
    ap.add_argument("--buckets", type=int, default=16, help="rows of the printed table")
    ap.add_argument("--plot", default="out/demo/ead_demo.png", help="PNG to write ('' to skip)")
    args = ap.parse_args(argv)

    schedule = Schedule(tau_max=args.tau_max, tau_min=args.tau_min)
    res, elapsed = run(args.batch, args.length, args.vocab, schedule, args.step, args.seed,
                       getattr(torch, args.dtype))
    toks = args.batch * args.length
    print(f"EAD demo: {args.batch} sequences x {args.length} tokens, vocab {args.vocab}, {args.dtype}, "
          f"step {args.step} (decay {schedule.at_step(args.step):g}), {schedule}")
    print(f"sampled {toks} tokens in {elapsed:.2f} s ({toks / elapsed:,.0f} tokens/s, synthetic LM included)")
    print(f"{'positions':>11s} {'tau':>6s} {'entropy':>8s} {'logp beh':>9s} {'logp tgt':>9s} {'distinct':>8s}")
    edges = torch.linspace(0, args.length, args.buckets + 1).long().tolist()
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi <= lo:
            continue
        sl = slice(lo, hi)
        distinct = sum(len(set(res["tokens"][:, t].tolist())) for t in range(lo, hi)) / ((hi - lo) * args.batch)
        print(f"{lo:5d}-{hi - 1:<5d} {res['tau'][:, sl].mean():6.3f} {res['entropy'][:, sl].mean():8.3f} "
              f"{res['logprob'][:, sl].mean():9.3f} {res['target'][:, sl].mean():9.3f} {distinct:8.3f}")
    print("distinct = distinct tokens drawn at a position / sequences (1.0: every sequence differs)")
    if args.plot:
        from .plots import plot_schedule

        path = plot_schedule(args.plot, schedule, steps=sorted({0, args.step, args.step + 100}),
                             max_position=args.length, entropy=res["entropy"].mean(dim=0))
        print(f"wrote {path}")
    return 0
