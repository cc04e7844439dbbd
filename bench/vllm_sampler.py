"""vLLM's own GPU sampler for bench_cuda.py: the model-runner-V2 kernels of
``vllm/v1/worker/gpu/sample/{gumbel,logprob}.py``, run from unmodified copies of the released files
(``bash bench/fetch_contenders.sh`` puts vLLM 0.33.0's into the ignored ``.prebuilt/contenders``),
so that the benchmark needs no vLLM install (the GPU wheel pins torch 2.14 and is 336 MB; the GPU
machine has no network).

The two files import ``tl, triton`` from ``vllm.triton_utils`` and, in logprob.py, a few names that
only its other functions use (``SamplingParams``, ``LogprobsTensors``, two buffer classes). When
vLLM itself is not importable, :func:`load` registers a stand-in ``vllm`` package with the real
Triton and inert placeholders for those names, then imports the files under their own module
names; an installed vLLM is used as it is.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent.parent / ".prebuilt" / "contenders"
_MODULE = "vllm.v1.worker.gpu.sample"


def find_copy(root: Path = DEFAULT_DIR) -> Path | None:
    """The newest fetched ``vllm-<version>`` folder holding both files, or None."""
    dirs = sorted(p for p in root.glob("vllm-*") if (p / "gumbel.py").exists() and (p / "logprob.py").exists())
    return dirs[-1] if dirs else None


def _placeholder(name: str):
    return type(name, (), {"__doc__": "stand-in: not used by the benchmarked functions"})


def _stand_in_vllm() -> None:
    import triton
    import triton.language as tl

    def module(name: str, **attrs):
        m = types.ModuleType(name)
        m.__path__ = []  # a package, so that submodules can be registered below it
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    for name in ("vllm", "vllm.v1", "vllm.v1.worker", "vllm.v1.worker.gpu", _MODULE):
        module(name, _ead_stand_in=True)
    module("vllm.triton_utils", tl=tl, triton=triton)
    module("vllm.sampling_params", MAX_LOGPROB_TOKEN_IDS=128, SamplingParams=_placeholder("SamplingParams"))
    module("vllm.v1.outputs", LogprobsTensors=_placeholder("LogprobsTensors"))
    module("vllm.v1.worker.gpu.buffer_utils", StagedWriteTensor=_placeholder("StagedWriteTensor"),
           UvaBackedTensor=_placeholder("UvaBackedTensor"))


def load(folder: Path | None = None, stand_in: bool | None = None):
    """(gumbel, logprob, description): the two modules from ``folder`` (default: :func:`find_copy`).
    ``stand_in``: use the stand-in vllm package (default: only when vLLM is not importable)."""
    folder = folder or find_copy()
    if folder is None:
        raise FileNotFoundError(f"no copy of vLLM's sampler files under {DEFAULT_DIR}: run bash bench/fetch_contenders.sh")
    present = sys.modules.get("vllm")
    ours = getattr(present, "_ead_stand_in", False)
    if stand_in is None:
        stand_in = ours or (present is None and importlib.util.find_spec("vllm") is None)
    if stand_in:
        if not ours:
            _stand_in_vllm()
        how = "with a stand-in vllm package (real Triton)"
    else:
        import vllm
        how = f"with the installed vLLM {vllm.__version__}"
    mods = []
    for name in ("gumbel", "logprob"):
        spec = importlib.util.spec_from_file_location(f"{_MODULE}.{name}", os.fspath(folder / f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods[0], mods[1], f"{folder.name} files ({how})"
