"""The request-side interface (extra_args["ead"]) and the plugin's switches, without an engine."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from ead_ext.integrations.vllm.params import EADParamsError, parse_ead_args
from ead_ext.schedule import PRESETS, Schedule


def test_plain_requests_have_no_ead():
    for extra in (None, {}, {"other": 1}, {"ead": None}, {"ead": False}):
        assert parse_ead_args(extra) is None


def test_defaults_presets_and_step():
    assert parse_ead_args({"ead": {}}).schedule == Schedule()
    assert parse_ead_args({"ead": True}).schedule == Schedule()
    assert parse_ead_args({"ead": "large"}).schedule == PRESETS["large"]
    p = parse_ead_args({"ead": {"preset": "large", "tau_max": 1.5, "step": 3}})
    assert p.schedule == PRESETS["large"].replace(tau_max=1.5)
    assert p.decay == PRESETS["large"].at_step(3) and p.step == 3
    p = parse_ead_args({"ead": {"decay": 7.5, "cutoff": 0}})
    assert p.decay == 7.5 and p.step is None and p.schedule.cutoff == 0


def test_verl_dict_round_trip():
    """What the verl side sends: every Schedule field plus "step"."""
    s = Schedule(tau_max=1.1, tau_min=0.8, d0=30.0, growth=2.0, cap=100.0, cutoff=4, token_scale=10.0)
    p = parse_ead_args({"ead": {**s.to_dict(), "step": 12}})
    assert p.schedule == s and p.decay == s.at_step(12)
    t = torch.arange(300)
    assert torch.equal(p.temperature(t), s.temperature(t, step=12))


def test_http_encodings():
    want = parse_ead_args({"ead": {"tau_min": 0.2, "step": 3, "cutoff": 5}})
    assert parse_ead_args({"ead": json.dumps({"tau_min": 0.2, "step": 3, "cutoff": 5})}) == want
    assert parse_ead_args({"ead.tau_min": 0.2, "ead.step": 3, "ead.cutoff": 5}) == want
    assert parse_ead_args({"ead.cutoff": 5.0, "ead.tau_min": 0.2, "ead.step": 3.0}) == want  # JSON numbers
    assert parse_ead_args({"ead": "true"}).schedule == Schedule()
    # vllm_xargs narrows JSON true/false to the ints 1/0 (floats from some clients)
    for one in (1, 1.0):
        assert parse_ead_args({"ead": one}) == parse_ead_args({"ead": True})
    for zero in (0, 0.0):
        assert parse_ead_args({"ead": zero}) is None


@pytest.mark.parametrize("extra,field", [
    ({"ead": {"tau_mni": 0.1}}, "tau_mni"),
    ({"ead": {"tau_min": 0}}, "tau_min"),
    ({"ead": {"tau_max": 0.05}}, "tau_max"),
    ({"ead": {"d0": -1}}, "d0"),
    ({"ead": {"cap": 1.0}}, "cap"),
    ({"ead": {"token_scale": 0}}, "token_scale"),
    ({"ead": {"cutoff": 2.5}}, "cutoff"),
    ({"ead": {"cutoff": True}}, "cutoff"),
    ({"ead": {"tau_max": "1.2"}}, "tau_max"),
    ({"ead": {"step": -1}}, "step"),
    ({"ead": {"step": "3"}}, "step"),
    ({"ead": {"decay": 0}}, "decay"),
    ({"ead": {"decay": 2, "step": 1}}, "decay"),
    ({"ead": {"preset": "medium"}}, "preset"),
    ({"ead": [1, 2]}, "ead"),
    ({"ead": 2}, "got int"),
    ({"ead": 0.5}, "got float"),
    ({"ead": "{bad json"}, "JSON"),
    ({"ead": {}, "ead.step": 1}, "not both"),
    ({"ead.bogus": 1}, "bogus"),
    ({"ead": {"tau_max": float("nan")}}, "tau_max"),
    ({"ead": {"shape": "linear"}}, "shape"),
    ({"ead": {"shape": 3}}, "shape"),
    ({"ead": {"shape": "both", "decay": 3.0}}, "shape 'both' reads the training step: give field 'step'"),
    ({"ead": {"shape": "none", "decay": 3.0}}, "shape 'none' has no position decay"),
    ({"ead": {"shape": "global_step", "decay": 3.0}}, "shape 'global_step' has no position decay"),
])
def test_bad_args_name_the_field(extra, field):
    with pytest.raises(EADParamsError, match=field):
        parse_ead_args(extra)
    assert issubclass(EADParamsError, ValueError)  # vLLM maps ValueError to HTTP 400


_SWITCH_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import vllm
    mode = sys.argv[1]
    if mode == "unsupported":
        vllm.__version__ = "0.99.0"
    from ead_ext.integrations.vllm import plugin
    import vllm.v1.sample.sampler as sampler_mod
    stock = sampler_mod.Sampler
    out = {}
    if mode == "unsupported":
        try:
            plugin.install()
        except plugin.UnsupportedVLLMError as e:
            out["install_error"] = str(e)
    else:
        out["install"] = plugin.install()
    plugin.register()
    import vllm.v1.sample.logits_processor as lp
    classes = lp._load_logitsprocs_plugins()
    out["procs"] = [c.__name__ for c in classes]
    out["sampler_swapped"] = sampler_mod.Sampler is not stock
    from vllm import SamplingParams
    def check(extra):
        try:
            for c in classes:
                c.validate_params(SamplingParams(extra_args=extra))
            return "ok"
        except Exception as e:  # VLLMValidationError is not a ValueError on every release
            return "error: " + str(e)
    out["ead_request"] = check({"ead": {}})
    out["plain_request"] = check(None)
    print("RESULT" + json.dumps(out))
""")


def _switch(mode, env_extra):
    pytest.importorskip("vllm", reason="vLLM is not importable here: install requirements/vllm.txt")
    env = dict(os.environ, **env_extra)
    proc = subprocess.run([sys.executable, "-c", _SWITCH_SCRIPT, mode], env=env, capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(os.path.abspath(__file__)))
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    return json.loads(line[0][len("RESULT"):])


def test_off_switch_leaves_vllm_untouched():
    out = _switch("disabled", {"EAD_VLLM_DISABLE": "1"})
    assert out["install"] is False
    assert not out["sampler_swapped"] and out["procs"] == []
    assert out["ead_request"] == "ok"  # vLLM ignores the unknown extra_args


def test_unsupported_vllm_is_refused_not_patched():
    out = _switch("unsupported", {"EAD_VLLM_DISABLE": "0"})
    assert "0.99.0 is not supported" in out["install_error"]
    assert not out["sampler_swapped"]
    assert out["ead_request"].startswith("error:") and "not supported" in out["ead_request"]
    assert out["plain_request"] == "ok"


@pytest.mark.parametrize("encoding", ["dict", "json", "flat"])
def test_shape_travels_in_every_encoding(encoding):
    fields = {"shape": "both", "tau_max": 1.4, "d0": 8.0, "step": 6}
    extra = {"dict": {"ead": fields}, "json": {"ead": json.dumps(fields)},
             "flat": {f"ead.{k}": v for k, v in fields.items()}}[encoding]
    p = parse_ead_args(extra)
    assert p.schedule == Schedule(tau_max=1.4, d0=8.0, shape="both") and p.step == 6
    assert p.decay == 8.0 and p.step_factor == pytest.approx(math.exp(-6 / 8.0))
    assert torch.equal(p.temperature(torch.arange(50)), p.schedule.temperature(torch.arange(50), step=6))


def test_explicit_decay_with_a_position_shape():
    p = parse_ead_args({"ead": {"shape": "token_length", "decay": 3.5}})
    assert p.decay == 3.5 and p.step is None and p.step_factor == 1.0
    t = torch.arange(40)
    assert torch.equal(p.temperature(t), Schedule(d0=3.5, shape="token_length").temperature(t))
