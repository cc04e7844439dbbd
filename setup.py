"""Build of ead-ext: the ead_ext package and its compiled ops (ead_ext._C).

The CPU op is always built. Its kernel is compiled three times (default, AVX2,
AVX512 flags) and picked at run time from at::get_cpu_capability(), as ATen does.
`pip install .` and `pip install --no-build-isolation .` both compile the op
against the torch installed in the target environment (install torch first).

The CUDA op (csrc/cuda/sample_cuda.cu) is added to the same extension when the
installed torch is a CUDA build and nvcc is found; otherwise the build is
CPU-only, as on GPU-less machines with the CPU wheel. Environment:
  EAD_BUILD_CUDA=auto|0|1   auto (default): CUDA when possible; 0: never; 1: fail
                            if the CUDA op cannot be built
  TORCH_CUDA_ARCH_LIST      target GPUs, default "8.0;9.0" (A100, H100/H200)
  CUDA_HOME                 the CUDA toolkit; when unset, nvcc on PATH is used if
                            its toolkit has headers, else /usr/local/cuda
"""
import json
import os
import sys
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent.resolve()
TORCH_SPEC = "torch>=2.9,<2.15"

# Flags per CPU capability, as ATen compiles its own kernels (one table, also read by
# bench/cpu_phases.py, which compiles the same kernel for its per-phase profile).
_CAPABILITY_FLAGS = {k: v for k, v in json.loads((ROOT / "csrc" / "cpu" / "capability_flags.json").read_text()).items()
                     if not k.startswith("_comment")}


def _capability_flags(source: str) -> list:
    for suffix, flags in _CAPABILITY_FLAGS.items():
        if source.endswith(suffix):
            return flags
    return []


def _import_torch():
    """The torch the op will run with. Under pip's build isolation (plain `pip install .`)
    the environment's own packages are hidden; the op must be compiled against the torch
    installed there (a different torch would break its ABI), so it is looked up there."""
    try:
        import torch
    except ImportError:
        import sysconfig

        for key in ("purelib", "platlib"):
            path = sysconfig.get_paths()[key]
            if path not in sys.path:
                sys.path.append(path)
        try:
            import torch
        except ImportError:
            raise SystemExit("ead-ext: install PyTorch first (e.g. pip install torch==2.13.0); "
                             "the op is compiled against the installed torch.") from None
    return torch


def _locate_cuda_home() -> None:
    """Sets CUDA_HOME when unset and torch's own guess (nvcc's parent on PATH) would be
    wrong: /usr/local/bin/nvcc may be a wrapper script, whose parent (/usr/local) holds
    no CUDA headers. Must run before torch.utils.cpp_extension is imported."""
    if os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH"):
        return
    import shutil

    candidates = []
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(Path(nvcc).resolve().parent.parent)
        candidates.append(Path(nvcc).parent.parent)
    candidates.append(Path("/usr/local/cuda"))
    for home in candidates:
        if (home / "bin" / "nvcc").exists() and (home / "include" / "cuda_runtime.h").exists():
            os.environ["CUDA_HOME"] = str(home)
            return


def _cuda_build(torch) -> bool:
    """Whether to build the CUDA op (see the module docstring)."""
    mode = os.environ.get("EAD_BUILD_CUDA", "auto").strip().lower()
    if mode in ("0", "no", "false", "off"):
        return False
    from torch.utils.cpp_extension import CUDA_HOME

    why = None
    if torch.version.cuda is None:
        why = f"torch {torch.__version__} is not a CUDA build"
    elif CUDA_HOME is None or not (Path(CUDA_HOME) / "bin" / "nvcc").exists():
        why = "nvcc was not found (set CUDA_HOME)"
    if why is None:
        return True
    if mode in ("1", "yes", "true", "on"):
        raise SystemExit(f"ead-ext: EAD_BUILD_CUDA=1 but the CUDA op cannot be built: {why}")
    print(f"ead-ext: building the CPU op only ({why})", file=sys.stderr)
    return False


def _cuda_wheel_include_dirs() -> list:
    """site-packages/nvidia/cu13/include of the CUDA 13 torch wheels (CUDA library
    headers that a bare toolkit may lack), when present."""
    import sysconfig

    dirs = []
    for base in [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path]:
        inc = Path(base) / "nvidia" / "cu13" / "include"
        if inc.is_dir() and str(inc) not in dirs:
            dirs.append(str(inc))
    return dirs


def _extensions():
    _locate_cuda_home()
    torch = _import_torch()
    with_cuda = _cuda_build(torch)
    from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension

    sources = ["csrc/ops.cpp", "csrc/cpu/sample_cpu.cpp"] + [
        f"csrc/cpu/sample_kernel{s}" for s in _CAPABILITY_FLAGS
    ]
    if os.uname().machine not in ("x86_64", "AMD64"):
        sources = [s for s in sources if not s.endswith(("_avx2.cpp", "_avx512.cpp"))]
    # -fopenmp compiles at::parallel_for's OpenMP pragmas (without it they are ignored and the op
    # runs on one thread); the GOMP symbols resolve to the libgomp torch already loads.
    # -ffp-contract=off: no silent a*b+c fusion (with -mfma gcc would fuse x*s - m), so
    # every capability rounds exactly as the reference does; fused multiply-adds are
    # written explicitly where wanted.
    cxx = ["-O3", "-g0", "-std=c++20", "-fvisibility=hidden", "-fopenmp", "-ffp-contract=off"]
    if os.environ.get("EAD_DEBUG", "0") == "1":
        cxx = ["-O0", "-g", "-std=c++20", "-fopenmp", "-ffp-contract=off"]
    include_dirs = [str(ROOT / "csrc" / "include"), str(ROOT / "csrc")]
    if with_cuda:
        # Default targets: A100 (sm_80) and H100/H200 (sm_90).
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0")
        # -fmad=false: no a * b + c contracted into an FMA, as the CPU build's
        # -ffp-contract=off (the kernel rounds y = fl(x * s) and a = fl(fl(x - max) * s)
        # once each, as the CPU kernel and the shared header do).
        nvcc = ["-O3", "-std=c++20", "--expt-relaxed-constexpr", "-fmad=false", "-lineinfo"]
        if os.environ.get("EAD_DEBUG", "0") == "1":
            nvcc = ["-O0", "-g", "-std=c++20", "--expt-relaxed-constexpr", "-fmad=false", "-lineinfo"]
        ext = CUDAExtension(
            "ead_ext._C",
            sources + ["csrc/cuda/sample_cuda.cu"],
            include_dirs=include_dirs + _cuda_wheel_include_dirs(),
            extra_compile_args={"cxx": cxx, "nvcc": nvcc},
            py_limited_api=False,
        )
    else:
        ext = CppExtension(
            "ead_ext._C",
            sources,
            include_dirs=include_dirs,
            extra_compile_args={"cxx": cxx},
            py_limited_api=False,
        )

    class EadBuildExtension(BuildExtension):
        """BuildExtension with per-source flags (the per-capability kernel copies).

        Ninja takes one flag set per extension, so the distutils path is used; it
        compiles the five C++ sources in about 20 s with -g0 (the .cu source, when
        built, goes to nvcc with the "nvcc" flags and gets no capability flags).
        """

        def build_extension(self, ext):
            compile_one = self.compiler._compile

            def _compile(obj, src, ext_, cc_args, extra_postargs, pp_opts):
                extra = _capability_flags(src)
                if isinstance(extra_postargs, dict):
                    extra_postargs = dict(extra_postargs, cxx=list(extra_postargs["cxx"]) + extra)
                else:
                    extra_postargs = list(extra_postargs) + extra
                return compile_one(obj, src, ext_, cc_args, extra_postargs, pp_opts)

            self.compiler._compile = _compile
            try:
                super().build_extension(ext)
            finally:
                self.compiler._compile = compile_one

    return [ext], {"build_ext": EadBuildExtension.with_options(use_ninja=False)}


ext_modules, cmdclass = _extensions()

setup(  # metadata and entry points: pyproject.toml
    packages=find_packages(include=["ead_ext", "ead_ext.*"])
    + ["ead_ext.integrations"]
    + [f"ead_ext.integrations.{p}" for p in find_packages("integrations")],
    package_dir={"ead_ext.integrations": "integrations"},
    # data files the code reads at run time: the embedded default model, verl's Hydra configs
    # and recipe scripts
    package_data={
        "ead_ext.apps": ["assets/tiny_arith/*", "assets/tiny_countdown/*"],
        "ead_ext.integrations.verl": ["config/*.yaml", "recipes/*.sh", "recipes/*.py", "README.md"],
        "ead_ext.integrations.vllm": ["README.md"],
    },
    install_requires=[TORCH_SPEC, "numpy>=1.24"],
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
