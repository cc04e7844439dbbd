"""CUDA benchmark: the fused EAD sampling op against the alternatives, side by side on the same
logits in one process.

Columns (each one sampling one token per row at a per-row temperature, with the sampled token's
log-prob, unless said otherwise):
  fused      torch.ops.ead.sample (behaviour log-prob; no target log-prob, no entropy)
  fused+     the same with the tau = 1 log-prob and the entropy (all outputs)
  eager      the PyTorch eager composite vLLM's V1 sampler runs: fp32 copy, divide by tau,
             softmax, exponential race (probs / Exp(1), argmax), log_softmax + gather
  vllm       vLLM's model-runner-V2 GPU sampler (0.33.0's released files, fetched by
             bench/fetch_contenders.sh into .prebuilt/contenders and carried to the GPU machine;
             else an installed vLLM): fp32 copy, its Triton temperature kernel, split-vocab
             Gumbel argmax, token log-prob kernel
  flashinfer FlashInfer's sampling_from_logits (no temperature argument: run on the raw logits,
             as its own benchmark does) + a log_softmax gather for the log-prob, when installed
             (its wheel unpacks to 715 MB of JIT sources: too big to carry to the lent GPU)
  fi+tau     the same with the logits divided by tau first (the functionality the op provides)
  copy       a device-to-device copy of the logits (read + write: the bandwidth ceiling)

Timing: CUDA events around each call; before each call the GPU is kept busy (a ~100 us sleep
kernel, after a write of 2x the L2 size with --flush-l2) so the host has queued the whole call
before the GPU reaches it: the times are GPU times, not Python launch overhead. Without --flush-l2 small
batches sit in the L2 from the previous call, as right after the LM head; with it they come
from DRAM. Median of --reps calls.

GB/s counts one read of the logits (bytes / time); the copy's GB/s counts its read and write.
"% copy" is the op's GB/s over the copy's (targets: >= 85 % at B >= 256, >= 60 % at B = 64). Ratios are
speed-ups of the fused op (> 1: fused is faster). Never asserts on time.

    python bench/bench_cuda.py                 # the issue's matrix
    python bench/bench_cuda.py --flush-l2      # logits from DRAM
    python bench/bench_cuda.py --quick         # a small smoke run
    python bench/bench_cuda.py --json cuda.json  # also write the rows (bench/tables.py -> markdown)
Logits: the tests' generators (ead_ext.testing), --kind llm or flat.
Without a GPU (or without the CUDA op) it says so and exits 0.
"""
from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
from typing import Callable, Optional

import torch

from composite import eager_composite  # bench/ is on sys.path when run as a script

from ead_ext.testing import flat_logits, realistic_logits  # the tests' generators


def make_logits(kind: str, batch: int, vocab: int, dtype: torch.dtype, device, seed: int = 0) -> torch.Tensor:
    """The tests' generators (ead_ext.testing): llm = realistic_logits (heavy-tailed
    bulk, a few peaked tokens a random margin above it), flat = flat_logits (N(0, 1)); built on the
    CPU, then moved to the device."""
    make = realistic_logits if kind == "llm" else flat_logits
    return make(batch, vocab, seed=seed, dtype=dtype, device=device)


# ----------------------------------------------------------------------------------- contenders

def make_flashinfer() -> tuple[Optional[Callable], Optional[Callable], str]:
    try:
        import flashinfer.sampling as fs
    except Exception as e:  # noqa: BLE001  (any import failure means: not available)
        return None, None, f"not importable ({type(e).__name__}: {e})"
    if not hasattr(fs, "sampling_from_logits"):
        return None, None, "flashinfer.sampling has no sampling_from_logits"

    def raw(logits, temperature):
        tokens = fs.sampling_from_logits(logits).long()
        lp = torch.log_softmax(logits.float(), dim=-1).gather(1, tokens[:, None])[:, 0]
        return tokens, lp

    def tempered(logits, temperature):
        x = logits.float().div_(temperature[:, None])
        tokens = fs.sampling_from_logits(x).long()
        lp = torch.log_softmax(x, dim=-1).gather(1, tokens[:, None])[:, 0]
        return tokens, lp

    import flashinfer
    return raw, tempered, f"flashinfer {getattr(flashinfer, '__version__', '?')}"


def make_vllm() -> tuple[Optional[Callable], str]:
    """vLLM's model-runner-V2 GPU sampling (vllm/v1/worker/gpu/sample: its Triton temperature kernel,
    split-vocab Gumbel argmax and token log-prob kernel), called the way its Sampler does for random
    rows with processed log-probs: from the unmodified released files bench/fetch_contenders.sh
    fetched (bench/vllm_sampler.py), else from an installed vLLM. Internal API: checked by signature."""
    from vllm_sampler import find_copy, load

    try:
        if find_copy() is not None:
            gumbel, logprob, info = load()
        else:
            import vllm
            from vllm.v1.worker.gpu.sample import gumbel, logprob
            info = f"installed vLLM {vllm.__version__}"
    except Exception as e:  # noqa: BLE001
        return None, f"not loadable ({type(e).__name__}: {e}); run bash bench/fetch_contenders.sh"
    try:
        gparams = inspect.signature(gumbel.gumbel_sample).parameters
        needed = {"logits", "expanded_idx_mapping", "temperature", "seed", "pos", "apply_temperature"}
        if not needed <= set(gparams) or not hasattr(gumbel, "apply_temperature") or \
                not hasattr(logprob, "compute_token_logprobs"):
            return None, f"{info}: unexpected sampling internals"
    except Exception as e:  # noqa: BLE001
        return None, f"{info}: internals not inspectable ({e})"

    def run(logits, temperature):
        B = logits.shape[0]
        idx = torch.arange(B, dtype=torch.int32, device=logits.device)
        x = logits.to(torch.float32, copy=True)
        gumbel.apply_temperature(x, idx, temperature)
        kw = dict(apply_temperature=False)
        if "is_drafting" in gparams:
            kw["is_drafting"] = False
        tokens = gumbel.gumbel_sample(x, idx, temperature, run.seed, run.pos, **kw)
        lp = logprob.compute_token_logprobs(x, tokens.view(-1, 1))[:, 0]
        return tokens, lp

    run.seed = None
    run.pos = None
    return run, f"vLLM's V2 sampler, {info}"


# --------------------------------------------------------------------------------------- timing

class Timer:
    def __init__(self, flush_l2: bool, reps: int):
        self.reps = reps
        self.flush = None
        if flush_l2:
            l2 = torch.cuda.get_device_properties(0).L2_cache_size
            self.flush = torch.empty(2 * max(l2, 8 << 20), dtype=torch.uint8, device="cuda")

    def _pad(self):
        if self.flush is not None:
            self.flush.zero_()
        # ~100 us of GPU work: meanwhile the host queues every kernel of the call (the eager
        # composite launches ~8), so the events time the GPU, not the Python launch overhead
        torch.cuda._sleep(200_000)

    def us(self, fn: Callable) -> float:
        for _ in range(3):  # warm-up (allocator, autotuning, lazy loading)
            fn()
        torch.cuda.synchronize()
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(self.reps)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(self.reps)]
        for i in range(self.reps):
            self._pad()
            starts[i].record()
            fn()
            ends[i].record()
        torch.cuda.synchronize()
        return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends)) * 1e3


# ----------------------------------------------------------------------------------------- main

NCU_SHAPES = ((1, 151936, "bfloat16"), (64, 151936, "bfloat16"), (1024, 151936, "bfloat16"),
              (256, 32000, "float32"))


def ncu_shapes() -> int:
    """One launch of the fused op per shape of NCU_SHAPES, nothing else timed: ncu replays
    each launch with its own cache control and reads the counters."""
    for B, V, dname in NCU_SHAPES:
        x = make_logits("llm", B, V, getattr(torch, dname), torch.device("cuda"))
        temp = torch.full((B,), 0.8, device="cuda")
        ids = torch.arange(B, device="cuda", dtype=torch.long)
        torch.ops.ead.sample(x, temp, None, ids, ids, 1.2, 0.1, 25.0, 10, 20.0, False, False)
        torch.cuda.synchronize()
        print(f"ncu shape: B={B} V={V} {dname}")
    return 0


COLUMNS = ["fused", "fused+", "eager", "vllm", "flashinfer", "fi+tau", "copy"]
RATIOS = ("eager", "vllm", "flashinfer", "fi+tau")  # speed-ups of the fused op over these


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few shapes, few repetitions (smoke run)")
    ap.add_argument("--flush-l2", action="store_true", help="flush the L2 before every call (logits from DRAM)")
    ap.add_argument("--kind", choices=["llm", "flat"], default="llm",
                    help="llm: LM-like rows (default); flat: N(0,1) rows, noise needed everywhere")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64, 256, 1024])
    ap.add_argument("--vocabs", type=int, nargs="+", default=[151936, 32000])
    ap.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"], choices=["bfloat16", "float16", "float32"])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON (bench/tables.py prints the tables)")
    ap.add_argument("--ncu-shapes", action="store_true",
                    help="only launch the fused op once per profiled shape (for ncu, scripts/gpu_check.sh)")
    return ap


def main(argv=None) -> int:
    """The contenders, one row per (dtype, V, B) side by side, the summary lines, the JSON."""
    args = build_parser().parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_cuda: no CUDA device (torch.cuda.is_available() is False); nothing to benchmark. "
              f"torch {torch.__version__}, CUDA build: {torch.version.cuda}")
        return 0
    import ead_ext
    if not ead_ext.has_compiled_op("cuda"):
        print("bench_cuda: ead_ext has no CUDA op (built without nvcc or against a CPU torch); "
              f"backend_info: {ead_ext.backend_info()}")
        return 0
    if args.ncu_shapes:
        return ncu_shapes()
    if args.quick:
        args.batches, args.vocabs, args.reps = [1, 64], [32000], 10

    props = torch.cuda.get_device_properties(0)
    contenders = dict(zip(("flashinfer", "fi+tau", "fi_info"), make_flashinfer()))
    contenders.update(zip(("vllm", "vllm_info"), make_vllm()))
    timer = Timer(args.flush_l2, args.reps)
    print(f"{props.name}, {props.multi_processor_count} SMs, L2 {props.L2_cache_size >> 20} MB; torch {torch.__version__}; "
          f"logits '{args.kind}', temperature {args.temperature}, L2 {'flushed' if args.flush_l2 else 'warm'}, "
          f"median of {args.reps}")
    print(f"flashinfer: {contenders['fi_info']}\nvllm: {contenders['vllm_info']}")
    hdr = (f"{'dtype':8s} {'B':>5s} {'V':>7s} | " + " ".join(f"{c + ' us':>12s}" for c in COLUMNS) +
           f" | {'GB/s':>6s} {'copy GB/s':>9s} {'%copy':>6s} | {'x eager':>7s} {'x vllm':>7s} {'x fi':>6s} {'x fi+tau':>8s}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for dname in args.dtypes:
        for V in args.vocabs:
            for B in args.batches:
                rows.append(measure_shape(args, timer, contenders, dname, B, V, torch.device("cuda")))
                print_row(rows[-1])
    print_summary(rows)
    if args.json:
        write_json(args, argv, props, contenders, rows)
    return 0


def measure_shape(args, timer, contenders: dict, dname: str, B: int, V: int, dev) -> dict:
    """Every column's time on the same [B, V] logits, the fused op's GB/s against the copy's, the ratios."""
    x = make_logits(args.kind, B, V, getattr(torch, dname), dev)
    temp = torch.full((B,), args.temperature, device=dev)
    seeds = torch.arange(B, device=dev, dtype=torch.long)
    offs = torch.zeros(B, device=dev, dtype=torch.long)
    sched = (1.2, 0.1, 25.0, 10, 20.0)
    out = torch.empty_like(x)
    t = {}
    t["fused"] = timer.us(lambda: torch.ops.ead.sample(x, temp, None, seeds, offs, *sched, False, False))
    t["fused+"] = timer.us(lambda: torch.ops.ead.sample(x, temp, None, seeds, offs, *sched, True, True))
    t["eager"] = timer.us(lambda: eager_composite(x, temp))
    vllm_run = contenders["vllm"]
    if vllm_run is not None:
        vllm_run.seed = seeds
        vllm_run.pos = offs
        try:
            t["vllm"] = timer.us(lambda: vllm_run(x, temp))
        except Exception as e:  # noqa: BLE001
            print(f"  vllm failed at B={B} V={V} {dname}: {type(e).__name__}: {e}", file=sys.stderr)
    for name in ("flashinfer", "fi+tau"):
        fn = contenders[name]
        if fn is not None:
            try:
                t[name] = timer.us(lambda fn=fn: fn(x, temp))
            except Exception as e:  # noqa: BLE001
                print(f"  {name} failed at B={B} V={V} {dname}: {type(e).__name__}: {e}", file=sys.stderr)
    t["copy"] = timer.us(lambda: out.copy_(x))
    nbytes = x.numel() * x.element_size()
    gbs = nbytes / t["fused"] / 1e3
    copy_gbs = 2 * nbytes / t["copy"] / 1e3
    ratio = {k: (t[k] / t["fused"] if k in t else None) for k in RATIOS}
    return dict(dtype=dname, kind=args.kind, B=B, V=V, times_us={c: t.get(c) for c in COLUMNS},
                gbs=gbs, copy_gbs=copy_gbs, pct_copy=100 * gbs / copy_gbs,
                ratios={f"x_{k}": v for k, v in ratio.items()})


def print_row(row: dict) -> None:
    t, ratio = row["times_us"], {k: row["ratios"][f"x_{k}"] for k in RATIOS}

    def cell(k):
        return f"{t[k]:12.1f}" if t[k] is not None else f"{'-':>12s}"

    def rcell(k, w):
        return f"{ratio[k]:{w - 1}.2f}x" if ratio[k] is not None else f"{'-':>{w}s}"

    print(f"{row['dtype']:8s} {row['B']:5d} {row['V']:7d} | " + " ".join(cell(c) for c in COLUMNS) +
          f" | {row['gbs']:6.0f} {row['copy_gbs']:9.0f} {row['pct_copy']:5.0f}% | {rcell('eager', 7)} "
          f"{rcell('vllm', 7)} {rcell('flashinfer', 6)} {rcell('fi+tau', 8)}")


def print_summary(rows: list) -> None:
    """The share of the copy's bandwidth per batch range and the speed-ups, against the issue's targets."""
    for lo, hi, target in ((256, None, 85), (64, 64, 60)):
        sel = [r["pct_copy"] / 100 for r in rows if r["B"] >= lo and (hi is None or r["B"] <= hi)]
        if sel:
            print(f"B {'>= ' + str(lo) if hi is None else '= ' + str(lo)}: fused op at "
                  f"{100 * min(sel):.0f}-{100 * max(sel):.0f} % of the copy's bandwidth (target >= {target} %)")
    for k, target in (("eager", 10.0), ("flashinfer", 1.0), ("fi+tau", 1.0), ("vllm", 1.0)):
        r = [row["ratios"][f"x_{k}"] for row in rows if row["ratios"][f"x_{k}"] is not None]
        if r:
            tgt = f" (target >= {target:g}x)" if target else ""
            print(f"speed-up over {k}: min {min(r):.2f}x, geometric mean {statistics.geometric_mean(r):.2f}x, "
                  f"max {max(r):.2f}x{tgt}")


def write_json(args, argv, props, contenders: dict, rows: list) -> None:
    argv_s = " ".join(sys.argv[1:] if argv is None else argv)
    meta = dict(bench="cuda", command=f"python bench/bench_cuda.py {argv_s}".strip(), device=props.name,
                sms=props.multi_processor_count, l2_mb=props.L2_cache_size >> 20, torch=torch.__version__,
                kind=args.kind, temperature=args.temperature, flush_l2=args.flush_l2, reps=args.reps,
                flashinfer=contenders["fi_info"], vllm=contenders["vllm_info"])
    with open(args.json, "w") as fh:
        json.dump(dict(meta=meta, rows=rows), fh, indent=1)
    print(f"rows written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
