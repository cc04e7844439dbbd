"""Build of ead-ext: the ead_ext package and its compiled ops (ead_ext._C).

The CPU op is always built. Its kernel is compiled three times (default, AVX2,
AVX512 flags) and picked at run time from at::get_cpu_capability(), as ATen does.
`pip install .` and `pip install --no-build-isolation .` both compile the op
against the torch installed in the target environment (install torch first).
"""
import os
import sys
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent.resolve()
TORCH_SPEC = "torch>=2.9,<2.15"

# Flags per CPU capability, as ATen compiles its own kernels.
_CAPABILITY_FLAGS = {
    "_avx2.cpp": ["-mavx2", "-mfma", "-mf16c", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"],
    "_avx512.cpp": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c",
                    "-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512"],
    "_default.cpp": ["-DCPU_CAPABILITY=DEFAULT"],
}


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


def _extensions():
    _import_torch()
    from torch.utils.cpp_extension import BuildExtension, CppExtension

    sources = ["csrc/ops.cpp", "csrc/cpu/sample_cpu.cpp"] + [
        f"csrc/cpu/sample_kernel{s}" for s in _CAPABILITY_FLAGS
    ]
    if os.uname().machine not in ("x86_64", "AMD64"):
        sources = [s for s in sources if not s.endswith(("_avx2.cpp", "_avx512.cpp"))]
    # -fopenmp compiles at::parallel_for's OpenMP pragmas (without it they are ignored and the op
    # runs on one thread); the GOMP symbols resolve to the libgomp torch already loads.
    cxx = ["-O3", "-g0", "-std=c++20", "-fvisibility=hidden", "-fopenmp"]
    if os.environ.get("EAD_DEBUG", "0") == "1":
        cxx = ["-O0", "-g", "-std=c++20"]
    ext = CppExtension(
        "ead_ext._C",
        sources,
        include_dirs=[str(ROOT / "csrc" / "include"), str(ROOT / "csrc")],
        extra_compile_args={"cxx": cxx},
        py_limited_api=False,
    )

    class EadBuildExtension(BuildExtension):
        """BuildExtension with per-source flags (the per-capability kernel copies).

        Ninja takes one flag set per extension, so the distutils path is used; it
        compiles the five sources in about 20 s with -g0.
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

setup(
    name="ead-ext",
    version="0.1.0",
    description="Exploratory Annealed Decoding: a fused temperature-annealed sampling op for RLVR rollouts",
    long_description=(ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["ead_ext", "ead_ext.*"])
    + ["ead_ext.integrations"]
    + [f"ead_ext.integrations.{p}" for p in find_packages("integrations")],
    package_dir={"ead_ext.integrations": "integrations"},
    install_requires=[TORCH_SPEC, "numpy>=1.24"],
    extras_require={
        "plot": ["matplotlib>=3.7"],
        "test": ["pytest>=8", "hypothesis>=6.100", "scipy>=1.11", "matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["ead-ext=ead_ext.cli:main"]},
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
