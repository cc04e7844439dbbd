"""CPU benchmark: the fused EAD sampling op against the PyTorch eager composite.

The composite is what vLLM-style samplers do in eager PyTorch for a batch of
rows: fp32 logits / temperature, softmax, an exponential race
(probs / Exp(1) noise, argmax; vLLM's V1 sampler) and a log_softmax + gather for
the sampled token's log-prob. Both run on the same rows, side by side, in one
process, with the same thread count. Timed with torch.utils.benchmark (median).

Logit rows come in two kinds, built by the tests' generators (ead_ext.testing):
  llm   realistic_logits: heavy-tailed rows like a language model's, a few peaked
        tokens a random margin above the bulk (the op skips the noise of entries
        that cannot win)
  flat  flat_logits: N(0, 1) rows, every entry may win, the op's worst case

GB/s counts one read of the logits. The bandwidth line measures what this
machine reads per second in a plain reduction (x.max() over fp32), the ceiling
for any one-pass op. Never asserts on time.

    python bench/bench_cpu.py                     # the issue's matrix
    python bench/bench_cpu.py --quick             # a small smoke run (CI)
    python bench/bench_cpu.py --json cpu.json     # also write the rows (bench/tables.py -> markdown)
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics

import torch
import torch.utils.benchmark as tb

import ead_ext
from composite import eager_composite  # bench/ is on sys.path when run as a script

from ead_ext.testing import flat_logits, realistic_logits  # the tests' generators

LOGITS = {"llm": realistic_logits, "flat": flat_logits}


def median_us(fn, min_run_time: float) -> float:
    t = tb.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time)
    return t.median * 1e6


def read_bandwidth_gbs(min_run_time: float) -> float:
    x = torch.randn(64 * 1024 * 1024 // 4)  # 64 MiB: beyond the caches
    return x.numel() * 4 / median_us(lambda: x.max(), min_run_time) / 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, short timings (smoke run)")
    ap.add_argument("--temperature", type=float, default=1.2)
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON (bench/tables.py prints the tables)")
    args = ap.parse_args(argv)

    batches, vocabs, dtypes = [1, 8, 64], [32000, 151936], [torch.float32, torch.bfloat16]
    kinds, run_time = ["llm", "flat"], 0.5
    if args.quick:
        batches, vocabs, dtypes, kinds, run_time = [1, 8], [32000], [torch.float32, torch.bfloat16], ["llm"], 0.05

    info = ead_ext.backend_info()
    bw = read_bandwidth_gbs(run_time)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPU capability {info['cpu_capability']}, "
          f"compiled op: {info['compiled']} {info['devices']}")
    print(f"read bandwidth (fp32 max over 64 MiB): {bw:.1f} GB/s; temperature {args.temperature}")
    hdr = (f"{'dtype':9s} {'kind':4s} {'B':>4s} {'V':>7s} | {'fused us':>9s} {'+tgt+ent':>9s} {'eager us':>10s} | "
           f"{'speed-up':>8s} {'GB/s':>6s} {'%bw':>5s}")
    print(hdr)
    print("-" * len(hdr))
    ratios, rows = [], []
    for dtype in dtypes:
        for kind in kinds:
            for B in batches:
                for V in vocabs:
                    x = LOGITS[kind](B, V, seed=0, dtype=dtype)
                    temp = torch.full((B,), args.temperature)
                    seeds = torch.arange(B, dtype=torch.long)
                    offs = torch.zeros(B, dtype=torch.long)
                    fused = lambda: ead_ext.sample(x, temperature=temp, seeds=seeds, offsets=offs)  # noqa: E731
                    full = lambda: ead_ext.sample(x, temperature=temp, seeds=seeds, offsets=offs,  # noqa: E731
                                                  return_target_logprobs=True, return_entropy=True)
                    t_f = median_us(fused, run_time)
                    t_full = median_us(full, run_time)
                    t_e = median_us(lambda: eager_composite(x, temp), run_time)
                    gbs = B * V * x.element_size() / t_f / 1e3
                    ratios.append(t_e / t_f)
                    rows.append(dict(dtype=str(dtype).replace("torch.", ""), kind=kind, B=B, V=V, fused_us=t_f,
                                     full_us=t_full, eager_us=t_e, speedup=t_e / t_f, gbs=gbs,
                                     pct_bw=100 * gbs / bw))
                    print(f"{str(dtype).replace('torch.', ''):9s} {kind:4s} {B:4d} {V:7d} | {t_f:9.1f} {t_full:9.1f} "
                          f"{t_e:10.1f} | {t_e / t_f:7.2f}x {gbs:6.2f} {100 * gbs / bw:4.0f}%")
    print(f"speed-up over the eager composite: min {min(ratios):.2f}x, "
          f"geometric mean {statistics.geometric_mean(ratios):.2f}x, max {max(ratios):.2f}x")
    if args.json:
        meta = dict(bench="cpu", command="python bench/bench_cpu.py" + (" --quick" if args.quick else ""),
                    torch=torch.__version__, threads=torch.get_num_threads(), cpu_capability=info["cpu_capability"],
                    machine=platform.processor() or platform.machine(), temperature=args.temperature,
                    read_bandwidth_gbs=bw, speedup_min=min(ratios), speedup_max=max(ratios),
                    speedup_geomean=statistics.geometric_mean(ratios))
        with open(args.json, "w") as fh:
            json.dump(dict(meta=meta, rows=rows), fh, indent=1)
        print(f"rows written to {args.json}")


if __name__ == "__main__":
    main()
