"""Per-phase profile of the CPU op for bench_cpu.py --phases: builds bench/cpu_phases.cpp (the op's
kernel source with a timing probe, for this CPU's capability and with the op's own compiler flags)
with torch's JIT extension builder (~1 min the first time, cached after), and returns the time per
phase of a call."""
from __future__ import annotations

import json
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
#: the op's compile flags (setup.py) besides the capability's
BASE_FLAGS = ["-O3", "-g0", "-std=c++20", "-fopenmp", "-ffp-contract=off"]
_module = None


def load(capability: str):
    """The profiler compiled for ``capability`` (``AVX512``, ``AVX2`` or ``DEFAULT``: ead_ext.backend_info())."""
    global _module
    if _module is None:
        from torch.utils.cpp_extension import load as load_extension

        table = json.loads((ROOT / "csrc" / "cpu" / "capability_flags.json").read_text())
        flags = table[f"_{capability.lower()}.cpp"]
        _module = load_extension(name=f"ead_cpu_phases_{capability.lower()}", sources=[str(ROOT / "bench" / "cpu_phases.cpp")],
                                 extra_include_paths=[str(ROOT / "csrc" / "include"), str(ROOT / "csrc")],
                                 extra_cflags=BASE_FLAGS + flags, extra_ldflags=["-fopenmp"], verbose=False)
    return _module


def phase_us(module, x: torch.Tensor, temp: torch.Tensor, seeds: torch.Tensor, offsets: torch.Tensor,
             calls: int, want_target: bool = False, want_entropy: bool = False) -> dict:
    """Microseconds per call in each phase, summed over the threads (per-thread busy time)."""
    ns = module.profile(x, temp, seeds, offsets, want_target, want_entropy, calls)
    return {name: float(v) / calls / 1e3 for name, v in zip(module.PHASES, ns.sum(0).tolist())}
