"""Per-step cost of the EAD sampler against vLLM's stock V1 sampler, measured in one run.

One in-process vLLM engine (CPU build, tiny random Llama, vocab 1024). Three configurations:

* ``stock``      : vLLM's own ``Sampler`` instance put back into the runner; plain requests
                   (temperature 1.0, seeded) -- what vLLM does without ead-ext;
* ``ead-plain``  : the EAD sampler, plain requests (its pass-through to the stock code);
* ``ead``        : the EAD sampler, EAD requests (fused op, tau_t from the schedule).

For each batch size it reports the sampler's time per engine step (``forward`` timed inside the
engine, median over steps) and the engine's wall time per decode step. Then the same three
samplers are timed on synthetic LLM-like logits (the tests' realistic_logits, python_tests/) of a
large vocabulary (V = 151,936, Qwen2's), reusing the engine's real sampling metadata of the last
step, so the sampling work dominates. The model is the tests' tiny random Llama
(ead_ext/testing/random_llama.py).

Usage:  python bench/bench_vllm_overhead.py [--batch 1 16 64] [--tokens 32] [--json out.json]
Prints ratios; never asserts on time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class _Timed:
    """Wraps a sampler's forward to time every call (the CPU runs synchronously)."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.times = []
        self.last_args = None
        orig = sampler.forward

        def forward(*a, **k):
            t0 = time.perf_counter()
            out = orig(*a, **k)
            self.times.append(time.perf_counter() - t0)
            logits = k["logits"] if "logits" in k else a[0]
            md = k["sampling_metadata"] if "sampling_metadata" in k else a[1]
            self.last_args = (logits.shape, md)
            return out

        sampler.forward = forward


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big-vocab", type=int, default=151936)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import torch
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    from ead_ext.integrations.vllm import install
    from ead_ext.testing.random_llama import ensure_random_llama
    from ead_ext.testing import realistic_logits  # the tests' LLM-like logits
    from ead_ext.integrations.vllm.v1 import EADSampler

    install()
    model = ensure_random_llama(os.path.join(tempfile.gettempdir(), "ead_bench_tiny_llama"))
    llm = LLM(model=model, dtype="float32", max_model_len=256, enforce_eager=True, seed=0,
              logprobs_mode="processed_logprobs", max_num_seqs=max(args.batch))
    runner = llm.llm_engine.model_executor.driver_worker.worker.model_runner
    ead_sampler = runner.sampler
    assert isinstance(ead_sampler, EADSampler)
    stock_cls = EADSampler.__mro__[1]  # vllm.v1.sample.sampler.Sampler (the original class)
    stock_sampler = stock_cls(logprobs_mode=ead_sampler.logprobs_mode,
                              use_fp64_gumbel=ead_sampler.use_fp64_gumbel)

    sched = {"tau_max": 1.2, "tau_min": 0.1, "d0": 2.0, "cutoff": 2}
    configs = {"stock": (stock_sampler, False), "ead-plain": (ead_sampler, False), "ead": (ead_sampler, True)}
    results = {"engine": {}, "synthetic": {}}
    V = args.big_vocab
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, tiny Llama vocab 1024, "
          f"{args.tokens} tokens/request, logprobs=0 (processed); configs interleaved, {args.repeats} repeats")
    for B in args.batch:
        prompts = [TokensPrompt(prompt_token_ids=[(7 * i + j) % 1000 + 3 for j in range(8)]) for i in range(B)]
        params = {}
        for name, (sampler, ead) in configs.items():
            extra = {"extra_args": {"ead": sched}} if ead else {}
            params[name] = [SamplingParams(max_tokens=args.tokens, seed=i, logprobs=0, ignore_eos=True, **extra)
                            for i in range(B)]
            runner.sampler = sampler
            llm.generate(prompts, params[name], use_tqdm=False)  # warm-up
        samp = {n: [] for n in configs}
        walls = {n: [] for n in configs}
        synth = {}
        big = realistic_logits(B, V, seed=B)
        for rep in range(args.repeats):
            for name, (sampler, ead) in configs.items():
                runner.sampler = sampler
                timer = _Timed(sampler)
                t0 = time.perf_counter()
                llm.generate(prompts, params[name], use_tqdm=False)
                walls[name].append((time.perf_counter() - t0) / args.tokens)
                samp[name].extend(timer.times[1:])  # drop the prefill step
                del sampler.forward  # back to the class method
                if rep == 0:
                    # the same sampler on large-vocabulary logits, with this batch's real metadata
                    # (the engine state of the last step is still in place)
                    _, md = timer.last_args
                    ts = []
                    for _ in range(6):
                        x = big.clone()
                        t1 = time.perf_counter()
                        sampler.forward(x, md)
                        ts.append(time.perf_counter() - t1)
                    synth[name] = statistics.median(ts[1:])
        print(f"\nB = {B}")
        print(f"  {'config':>10} {'sampler us/step':>16} {'step ms (wall)':>15} {'V=' + str(V) + ' us/call':>18}")
        for name in configs:
            r = dict(sampler_us=statistics.median(samp[name]) * 1e6, step_ms=statistics.median(walls[name]) * 1e3,
                     big_vocab_us=synth[name] * 1e6)
            results["engine"].setdefault(str(B), {})[name] = r
            print(f"  {name:>10} {r['sampler_us']:>16.1f} {r['step_ms']:>15.2f} {r['big_vocab_us']:>18.0f}")
        r = results["engine"][str(B)]
        print(f"  ratios ead/stock: sampler {r['ead']['sampler_us'] / r['stock']['sampler_us']:.2f}x, "
              f"engine step {r['ead']['step_ms'] / r['stock']['step_ms']:.2f}x, "
              f"V={V} sampler {r['ead']['big_vocab_us'] / r['stock']['big_vocab_us']:.2f}x; "
              f"ead-plain/stock sampler {r['ead-plain']['sampler_us'] / r['stock']['sampler_us']:.2f}x")
    runner.sampler = ead_sampler
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
