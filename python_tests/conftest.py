"""Shared fixtures of the python_tests suite (helpers of the ead::sample tests live in
sampling_helpers.py, importable from every test module because pytest puts this folder on
sys.path)."""
import os
import sys
from importlib.util import find_spec

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _test_the_installed_package() -> None:
    """``python -m pytest`` puts the working directory first on sys.path; from the repo root that
    is the source tree's ``ead_ext``, which lacks ``ead_ext.integrations`` (mapped from integrations/
    only by the install) and, after a plain ``pip install .``, the compiled op. When ead-ext is
    installed from a wheel, the suite imports that copy; an editable install maps to the tree anyway."""
    here = [p for p in sys.path if os.path.abspath(p or os.curdir) == _REPO]
    if not here or "ead_ext" in sys.modules:
        return
    rest = [p for p in sys.path if p not in here]
    saved, sys.path[:] = sys.path[:], rest
    try:
        spec = find_spec("ead_ext")
    finally:
        sys.path[:] = saved
    if spec is not None and spec.origin and not spec.origin.startswith(os.path.join(_REPO, "ead_ext")):
        sys.path[:] = rest


_test_the_installed_package()

import pytest  # noqa: E402
import torch  # noqa: E402

from sampling_helpers import cuda_skip_reason  # noqa: E402


@pytest.fixture
def restore_num_threads():
    """Lets a test change torch.set_num_threads and puts the original count back afterwards."""
    n = torch.get_num_threads()
    yield n
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny random Llama made on the spot (ead_ext.testing.random_llama), one per test module."""
    from ead_ext.testing.random_llama import make_random_llama

    return make_random_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="module")
def hf_model(model_dir):
    """``model_dir`` loaded by transformers in fp32: the reference the engines' log-probs are checked against."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()


_CUDA_SKIP = cuda_skip_reason()


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(bool(_CUDA_SKIP), reason=_CUDA_SKIP))])
def device(request) -> str:
    """The device a test of the op runs on: each such test runs once per device (the CUDA run is
    skipped, with the reason, where no GPU is present or the op was built without CUDA)."""
    return request.param

# no silent skips under EAD_EXPECT_ALL=1 (expect_all.py)
pytest_plugins = ["expect_all"]
