"""Markdown tables of docs/BENCHMARKS.md from the benchmarks' --json files.

    python bench/bench_cpu.py --json cpu.json && python bench/tables.py cpu.json
    python bench/bench_cuda.py --json cuda.json && python bench/tables.py cuda.json

Prints, for each file, a line naming the command that wrote it and the machine, then its table
(the CPU or the CUDA layout, by the file's "bench" field) and the summary line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys

DTYPE = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def _n(v: float, digits: int = 0) -> str:
    """1234.5 -> '1,234' (digits=0) or '1,234.5' (digits=1); '-' for a missing value."""
    return "-" if v is None else f"{v:,.{digits}f}"


def _x(v) -> str:
    return "-" if v is None else f"{v:.2f}×"


def cpu_table(data: dict) -> list[str]:
    meta, rows = data["meta"], data["rows"]
    out = [f"`{meta['command']}`: torch {meta['torch']}, {meta['threads']} threads, CPU capability "
           f"{meta['cpu_capability']}, {meta.get('vllm', 'no vLLM')}; measured fp32 read bandwidth "
           f"{meta['read_bandwidth_gbs']:.1f} GB/s out of cache (64 MiB), "
           f"{meta.get('read_bandwidth_in_cache_gbs', float('nan')):.1f} GB/s in cache (256 KiB).", "",
           "| section | dtype | rows | B | V | τ | fused µs | +tgt+ent µs | read µs | × read | eager µs | × eager "
           "| vLLM µs | × vLLM | GB/s |",
           "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r.get('section', 'main')} | {DTYPE.get(r['dtype'], r['dtype'])} | {r['kind']} | {r['B']} | "
                   f"{_n(r['V'])} | {r.get('tau', meta['temperature']):g} | {_n(r['fused_us'])} | {_n(r['full_us'])} | "
                   f"{_n(r.get('read_us'))} | {_x(r.get('x_read'))} | {_n(r['eager_us'])} | {_x(r['speedup'])} | "
                   f"{_n(r.get('vllm_us'))} | {_x(r.get('x_vllm'))} | {r['gbs']:.2f} |")
    if "x_read_geomean" in meta:
        out += ["", f"Over all {len(rows)} shapes: fused / read geometric mean {meta['x_read_geomean']:.2f}×, max "
                f"{meta['x_read_max']:.2f}×; vLLM's CPU sampler / fused min {_x(meta.get('x_vllm_min'))}, geometric "
                f"mean {_x(meta.get('x_vllm_geomean'))}; eager / fused min {meta['speedup_min']:.1f}×, geometric mean "
                f"{meta['speedup_geomean']:.1f}×."]
    if data.get("phases"):
        names = list(data["phases"][0]["phases_us"])
        out += ["", "Per phase, one thread (`--phases`), µs per call (ns per entry):", "",
                "| dtype | rows | B | V | " + " | ".join(names) + " | total |",
                "| --- | --- | ---: | ---: | " + " | ".join("---:" for _ in names) + " | ---: |"]
        for p in data["phases"]:
            cells = [f"{_n(p['phases_us'][k])} ({p['ns_per_entry'][k]:.3f})" for k in names]
            out.append(f"| {DTYPE.get(p['dtype'], p['dtype'])} | {p['kind']} | {p['B']} | {_n(p['V'])} | "
                       + " | ".join(cells) + f" | {_n(p['total_us'])} ({1e3 * p['total_us'] / (p['B'] * p['V']):.3f}) |")
    return out


def cuda_table(data: dict) -> list[str]:
    meta, rows = data["meta"], data["rows"]
    out = [f"`{meta['command']}`: {meta['device']} ({meta['sms']} SMs, L2 {meta['l2_mb']} MB), torch "
           f"{meta['torch']}, logits '{meta['kind']}', temperature {meta['temperature']}, L2 "
           f"{'flushed' if meta['flush_l2'] else 'warm'}, median of {meta['reps']}.", "",
           "| dtype | B | V | fused µs | +tgt+ent µs | eager µs | vllm µs | flashinfer µs | copy µs | GB/s | % copy "
           "| × eager | × vllm | × flashinfer | × fi+tau |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        t, x = r["times_us"], r["ratios"]
        out.append(f"| {DTYPE.get(r['dtype'], r['dtype'])} | {r['B']} | {_n(r['V'])} | {_n(t['fused'], 1)} | "
                   f"{_n(t['fused+'], 1)} | {_n(t['eager'], 1)} | {_n(t.get('vllm'), 1)} | "
                   f"{_n(t.get('flashinfer'), 1)} | {_n(t['copy'], 1)} | {r['gbs']:.0f} | {r['pct_copy']:.0f} % | "
                   f"{_x(x.get('x_eager'))} | {_x(x.get('x_vllm'))} | {_x(x.get('x_flashinfer'))} | "
                   f"{_x(x.get('x_fi+tau'))} |")
    eager = [r["ratios"]["x_eager"] for r in rows if r["ratios"].get("x_eager") is not None]
    if eager:
        out += ["", f"Over all {len(rows)} shapes: × eager min {min(eager):.2f}×, geometric mean "
                f"{statistics.geometric_mean(eager):.2f}×, max {max(eager):.2f}×."]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="JSON files written by bench_cpu.py / bench_cuda.py --json")
    args = ap.parse_args(argv)
    for i, path in enumerate(args.files):
        with open(path) as fh:
            data = json.load(fh)
        kind = data.get("meta", {}).get("bench")
        if kind not in ("cpu", "cuda"):
            print(f"tables: {path}: not a bench_cpu.py / bench_cuda.py --json file", file=sys.stderr)
            return 2
        if i:
            print()
        print("\n".join(cpu_table(data) if kind == "cpu" else cuda_table(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
