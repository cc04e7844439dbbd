"""Driver of scripts/cuda_sanitizer_check.sh: runs torch.ops.ead.sample on CUDA over a few shapes
that cover every code path of the kernel (one or many blocks per row, one or several chunks per
block (plan_launch in csrc/cuda/sample_kernel.cuh: chunks_per_block = clamp(B * chunks / 264, 1,
8)), short last chunks and blocks, aligned and unaligned rows, each dtype, greedy / tempered /
scheduled rows, flagged rows, optional outputs), so that
compute-sanitizer can check its memory accesses, shared-memory races and barriers.

    python scripts/cuda_sanitizer_driver.py [--small]
--small: fewer, smaller shapes (racecheck is slow). Inputs are made on the CPU and copied, so
the only kernels besides copies are the op's own.
"""
import argparse
import math
import sys

import torch

import ead_ext  # noqa: F401  (registers torch.ops.ead)

SCHED = (1.2, 0.1, 25.0, 10, 20.0)


def run_case(B, V, dtype, *, offset=0, stride_pad=0, greedy=False, positions=False, bad=False):
    g = torch.Generator().manual_seed(B * 1000 + V)
    base = torch.randn(B, V + offset + stride_pad, generator=g) * 3.0
    if bad and B >= 3:
        base[0, offset + V // 2] = math.nan
        base[1] = -math.inf
        base[2, offset + V - 1] = math.inf
    x = base.to(dtype).cuda()[:, offset:offset + V]
    seeds = torch.arange(B, dtype=torch.long).cuda()
    offsets = (torch.arange(B, dtype=torch.long) * 3).cuda()
    if positions:
        t, pos = None, (torch.arange(B, dtype=torch.long) * 40).cuda()
    else:
        t, pos = torch.full((B,), 0.0 if greedy else 0.8).cuda(), None
        if bad and B >= 4:
            t[3] = -1.0
    for target, entropy in ((True, True), (False, False)):
        out = torch.ops.ead.sample(x, t, pos, seeds, offsets, *SCHED, target, entropy)
    torch.cuda.synchronize()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available() or not ead_ext.has_compiled_op("cuda"):
        print("cuda_sanitizer_driver: no CUDA device or no CUDA op; nothing to check")
        return 2
    # comments: chunks of 2048 per row, chunks per block (cpb), blocks per row
    cases = [
        dict(B=3, V=1000, dtype=torch.float32, offset=1),                  # unaligned; 1 short chunk
        dict(B=2, V=20011, dtype=torch.bfloat16, offset=3, stride_pad=2),  # unaligned; 10 chunks, cpb 1, short last
        dict(B=5, V=20000, dtype=torch.float16, bad=True),                 # flagged rows; 10 chunks, 10 blocks
        dict(B=4, V=5, dtype=torch.float32, greedy=True),                  # tiny vocabulary, greedy
        dict(B=3, V=4099, dtype=torch.bfloat16, positions=True),           # schedule; last chunk of 3 entries
    ]
    if not args.small:
        cases += [
            dict(B=1, V=151936, dtype=torch.bfloat16),                     # B = 1: 75 blocks per row
            dict(B=64, V=32000, dtype=torch.float32),                      # cpb 3: 6 blocks, the last with 1 chunk
            dict(B=8, V=151936, dtype=torch.float16, greedy=True),         # cpb 2: 38 blocks
            dict(B=6, V=50257, dtype=torch.bfloat16, offset=1, bad=True),  # 25 chunks, 25 blocks
            dict(B=300, V=16384, dtype=torch.bfloat16),                    # cpb 8 (every warp): 1 block per row
            dict(B=2, V=524288, dtype=torch.float32),                      # 256 blocks per row
        ]
    for c in cases:
        run_case(**c)
        print("ok:", {k: (str(v).replace("torch.", "") if k == "dtype" else v) for k, v in c.items()})
    empty = torch.ops.ead.sample(torch.zeros(0, 7).cuda(), torch.ones(0).cuda(), None,
                                 torch.zeros(0, dtype=torch.long).cuda(), torch.zeros(0, dtype=torch.long).cuda(),
                                 *SCHED, True, True)
    assert empty[0].numel() == 0
    torch.cuda.synchronize()
    print("cuda_sanitizer_driver: all cases ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
