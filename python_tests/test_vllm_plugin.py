"""The plugin's install rules against the vLLM installed here: the supported range, the V1-runner pin
on vLLM < 0.31 (whose V2 runner cannot load the EAD state), the start-up line."""
from __future__ import annotations

import os

import pytest

import vllm_helpers  # noqa: F401
from vllm_helpers import SKIP_REASON

try:
    import vllm
except ImportError:
    pytest.skip(SKIP_REASON, allow_module_level=True)

from ead_ext.integrations.vllm import features, plugin


def _minor() -> tuple:
    return plugin._vllm_version()[0]


def test_installed_vllm_is_in_the_supported_range():
    lo, hi = plugin.SUPPORTED_VLLM
    assert lo <= _minor() < hi
    assert plugin.check_version() == vllm.__version__
    expected = os.environ.get("EAD_EXPECT_VLLM")  # set by the scripts that run one release's code
    if expected:
        assert vllm.__version__.split("+")[0] == expected, (vllm.__version__, vllm.__file__)


@pytest.mark.parametrize("version", [((0, 23), "0.23.1"), ((0, 35), "0.35.0"), ((1, 0), "1.0.0")])
def test_releases_outside_the_range_are_refused_by_name(monkeypatch, version):
    monkeypatch.setattr(plugin, "_vllm_version", lambda: version)
    with pytest.raises(plugin.UnsupportedVLLMError, match=version[1].replace(".", r"\.")) as e:
        plugin.check_version()
    assert "supported: >= 0.24, < 0.35" in str(e.value) and plugin.ENV_DISABLE in str(e.value)


def test_release_features_detected_as_released():
    """Each named feature against the release where it changes (the real modules and signatures)."""
    assert features.v2_takes_processors() == (_minor() >= (0, 31))
    assert features.has_v1_runner() == (_minor() < (0, 34))
    if features.v2_takes_processors():
        from vllm.v1.worker.gpu.sample.sampler import Sampler
        from vllm.v1.worker.gpu.sample.states import SamplingStates

        assert features.v2_topk_takes_vocab(SamplingStates) == (_minor() >= (0, 33))
        assert features.v2_random_takes_topp_only(Sampler) == (_minor() >= (0, 33))
    if features.has_v1_runner():
        assert features.cpu_sampler_keeps_seeds_in_mixed_batches() == (_minor() >= (0, 32))
    from vllm.exceptions import VLLMValidationError

    assert isinstance(features.validation_error("x"), VLLMValidationError)


def test_old_vllm_pins_the_v1_runner_unless_v2_is_asked_for(monkeypatch):
    monkeypatch.setattr(plugin, "v2_takes_processors", lambda: False)
    monkeypatch.delenv(plugin.ENV_V2_RUNNER, raising=False)
    plugin._keep_v1_runner_where_v2_cannot_serve()
    assert os.environ[plugin.ENV_V2_RUNNER] == "0"
    plugin._keep_v1_runner_where_v2_cannot_serve()  # the user's (or our) "0" is kept
    assert os.environ[plugin.ENV_V2_RUNNER] == "0"
    monkeypatch.setenv(plugin.ENV_V2_RUNNER, "1")
    with pytest.raises(plugin.UnsupportedVLLMError, match=f"{plugin.ENV_V2_RUNNER}=1"):
        plugin._keep_v1_runner_where_v2_cannot_serve()


def test_new_vllm_leaves_the_runner_choice_to_vllm(monkeypatch):
    monkeypatch.setattr(plugin, "v2_takes_processors", lambda: True)
    monkeypatch.delenv(plugin.ENV_V2_RUNNER, raising=False)
    plugin._keep_v1_runner_where_v2_cannot_serve()
    assert plugin.ENV_V2_RUNNER not in os.environ
    monkeypatch.setenv(plugin.ENV_V2_RUNNER, "1")
    plugin._keep_v1_runner_where_v2_cannot_serve()
    assert os.environ[plugin.ENV_V2_RUNNER] == "1"


def test_startup_line_says_vllm_runner_and_where_the_op_runs():
    import ead_ext

    line = plugin.startup_line("V1", "cpu")
    assert line.startswith("ead_ext: EAD sampler active: ")
    assert f"vLLM {vllm.__version__}, model runner V1, " in line
    assert line.endswith("fused op on cpu" if ead_ext.has_compiled_op("cpu") else "samples (slow)")
    assert plugin.startup_line("V2", "cuda").endswith(
        "fused op on cuda" if ead_ext.has_compiled_op("cuda") else "no compiled op for cuda: the PyTorch "
        "reference samples (slow)")
    assert plugin.logger.name.startswith("vllm.")  # under vLLM's configured logger: shown in its logs
