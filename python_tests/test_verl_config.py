"""EAD recipes as real verl configs, the misconfiguration checks, and the step-aware request args."""
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("verl")
hydra = pytest.importorskip("hydra")

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf, open_dict  # noqa: E402

import ead_ext.integrations.verl as ead_verl  # noqa: E402
from ead_ext import Schedule  # noqa: E402
from ead_ext.integrations.verl import EADConfigError, EADSettings, check_ead_config, with_ead_sampling_params  # noqa: E402

CONFIG_DIR = Path(ead_verl.__file__).parent / "config"
RECIPES = ["ead_dapo", "ead_grpo", "ead_clip_cov", "ead_kl_cov"]


def recipe(name="ead_dapo", overrides=()):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name=name, overrides=list(overrides))


@pytest.mark.parametrize("name", RECIPES)
def test_recipes_are_valid_verl_configs(name):
    from verl.trainer.main_ppo import validate_config
    from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass

    cfg = recipe(name)
    settings = check_ead_config(cfg)
    assert settings.schedule == Schedule()  # the paper's defaults (tau_min 0.1 for <= 2B models)
    assert cfg.actor_rollout_ref.rollout.n == 16
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert actor.policy_loss.loss_mode in POLICY_LOSS_REGISTRY
    assert actor.policy_loss.rollout_correction["rollout_is_threshold"] == cfg.algorithm.rollout_correction.rollout_is_threshold
    rollout = omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)
    assert rollout.temperature == 1.0 and rollout.logprobs_mode == "processed_logprobs" and rollout.calculate_log_probs
    assert EADSettings.from_mapping(rollout.custom["ead"]).schedule == Schedule()


def test_7b_override_and_no_ead_section():
    cfg = recipe("ead_dapo", ["actor_rollout_ref.rollout.custom.ead.tau_min=0.8"])
    assert check_ead_config(cfg).schedule.tau_min == 0.8
    plain = recipe("ead_dapo")
    with open_dict(plain):
        plain.actor_rollout_ref.rollout.custom = None
    assert check_ead_config(plain) is None  # no EAD: nothing to check


BAD = [
    (["actor_rollout_ref.rollout.temperature=0.7"], "temperature=0.7"),
    (["actor_rollout_ref.rollout.calculate_log_probs=false"], "calculate_log_probs=false"),
    (["actor_rollout_ref.rollout.logprobs_mode=raw_logprobs"], "raw"),
    (["actor_rollout_ref.rollout.logprobs_mode=null"], "raw_logprobs"),
    (["+actor_rollout_ref.rollout.engine_kwargs.vllm.logprobs_mode=raw_logits"], "engine_kwargs.vllm.logprobs_mode"),
    (["actor_rollout_ref.rollout.name=sglang"], "vLLM"),
    (["algorithm.rollout_correction.bypass_mode=true"], "bypass_mode=true"),
    (["algorithm.rollout_correction.rollout_is=sequence"], "rollout_is='sequence'"),
    (["algorithm.rollout_correction.rollout_is=null"], "rollout_is=None"),
    (["algorithm.rollout_correction.rollout_is_threshold='0.5_5.0'"], "IcePop"),
    (["algorithm.rollout_correction.rollout_is_batch_normalize=true"], "batch_normalize"),
    (["actor_rollout_ref.actor.policy_loss.loss_mode=bypass_mode"], "loss_mode='bypass_mode'"),
    (["actor_rollout_ref.rollout.custom.ead.tau_min=0"], "tau_min"),
    (["+actor_rollout_ref.rollout.custom.ead.decay=30"], "decay"),
    (["actor_rollout_ref.rollout.custom.ead.validate=true", "actor_rollout_ref.rollout.val_kwargs.temperature=0.6"],
     "val_kwargs.temperature=0.6"),
]


@pytest.mark.parametrize("overrides,match", BAD, ids=[b[0][0] for b in BAD])
def test_misconfigurations_raise_clear_errors(overrides, match):
    cfg = recipe("ead_dapo", overrides)
    with pytest.raises(EADConfigError, match=match):
        check_ead_config(cfg)


def test_actor_copy_of_cap_must_match():
    cfg = recipe("ead_dapo")
    with open_dict(cfg):
        cfg.actor_rollout_ref.actor.policy_loss.rollout_correction = OmegaConf.create(
            {"rollout_is": "token", "rollout_is_threshold": 5.0})
    with pytest.raises(EADConfigError, match="differs"):
        check_ead_config(cfg)


def expected_decay(step, d0=25.0, growth=5.0, cap=40000.0):
    return min(d0 + growth * step, cap)


@pytest.mark.parametrize("step", [0, 1, 100, 10_000])
def test_requests_carry_the_step_decay(step):
    """verl's per-request sampling params + trajectory info -> the request's extra_args["ead"]."""
    from verl.experimental.agent_loop.agent_loop import get_trajectory_info
    import asyncio

    cfg = recipe("ead_dapo")
    settings = check_ead_config(cfg)
    rollout = cfg.actor_rollout_ref.rollout
    base = dict(temperature=rollout.temperature, top_p=rollout.top_p, top_k=rollout.top_k,
                repetition_penalty=1.0, logprobs=rollout.calculate_log_probs)  # as AgentLoopWorker builds them
    (traj,) = asyncio.run(get_trajectory_info(step, [0], False))
    params = with_ead_sampling_params(base, settings, step=traj["step"], validate=traj["validate"])
    ead = params["extra_args"]["ead"]
    assert ead["step"] == step
    assert Schedule.from_dict({k: v for k, v in ead.items() if k != "step"}).at_step(ead["step"]) == expected_decay(step)
    assert {k: v for k, v in ead.items() if k != "step"} == Schedule().to_dict()
    assert params["temperature"] == 1.0 and "extra_args" not in base  # verl's dict is not mutated


@pytest.mark.parametrize("shape", ["token_length", "both", "steps_variant"])
def test_a_shape_in_the_config_reaches_the_request(shape):
    """custom.ead.shape (a Hydra override, as ``ead-ext train --shape`` writes it) -> the request's
    ``shape``, which the vLLM side reads back into the same schedule."""
    from ead_ext.integrations.vllm.params import parse_ead_args

    cfg = recipe("ead_dapo", [f"actor_rollout_ref.rollout.custom.ead.shape={shape}"])
    settings = check_ead_config(cfg)
    assert settings.schedule == Schedule(shape=shape)
    params = with_ead_sampling_params({"temperature": 1.0}, settings, step=4, validate=False)
    assert params["extra_args"]["ead"]["shape"] == shape
    back = parse_ead_args(params["extra_args"])
    assert back.schedule == settings.schedule and back.step == 4


def test_an_unknown_shape_in_the_config_is_refused():
    cfg = recipe("ead_dapo", ["actor_rollout_ref.rollout.custom.ead.shape=linear"])
    with pytest.raises(EADConfigError, match="Schedule.shape must be one of"):
        check_ead_config(cfg)


def test_request_args_off_cases():
    settings = EADSettings(schedule=Schedule())
    base = {"temperature": 1.0}
    assert "extra_args" not in with_ead_sampling_params(base, None, step=3, validate=False)
    assert "extra_args" not in with_ead_sampling_params(base, settings, step=3, validate=True)
    assert "extra_args" in with_ead_sampling_params(base, EADSettings(Schedule(), validate=True), 3, True)
    assert "extra_args" not in with_ead_sampling_params({"temperature": 0}, settings, step=3, validate=False)
    assert "extra_args" not in with_ead_sampling_params(base, EADSettings(Schedule(), enable=False), 3, False)
    kept = with_ead_sampling_params({"temperature": 1.0, "extra_args": {"kv": 1}}, settings, 2, False)
    assert kept["extra_args"]["kv"] == 1 and kept["extra_args"]["ead"]["step"] == 2
    with pytest.raises(EADConfigError, match="global training step"):
        with_ead_sampling_params(base, settings, step=-1, validate=False)
    with pytest.raises(EADConfigError, match="temperature is 0.6"):
        with_ead_sampling_params({"temperature": 0.6}, settings, step=1, validate=False)
    with pytest.raises(EADConfigError, match="val_kwargs.temperature"):
        with_ead_sampling_params({"temperature": 0.6}, EADSettings(Schedule(), validate=True), step=1, validate=True)
    import numpy as np
    import torch

    for step in (np.int64(5), torch.tensor(5)):
        assert with_ead_sampling_params(base, settings, step=step, validate=False)["extra_args"]["ead"]["step"] == 5
    for bad in (True, 2.5, "3", None):
        with pytest.raises(EADConfigError, match="global training step"):
            with_ead_sampling_params(base, settings, step=bad, validate=False)


def test_managers_check_config_before_starting_workers():
    """The manager classes named in the recipes run the checks in their constructor (driver side)."""
    from verl.utils.import_utils import load_class_from_fqn

    cfg = recipe("ead_dapo", ["actor_rollout_ref.rollout.temperature=0.9"])
    for fqn in ["ead_ext.integrations.verl.agent_loop.EADAgentLoopManager",
                cfg.actor_rollout_ref.rollout.agent.agent_loop_manager_class]:
        cls = load_class_from_fqn(fqn, "AgentLoopManager")
        with pytest.raises(EADConfigError, match="temperature=0.9"):
            cls(config=cfg, llm_client=None)


def test_temperature_bucket_metrics():
    import torch

    from ead_ext.integrations.verl import temperature_bucket_metrics

    schedule = Schedule()
    mask = torch.zeros(3, 300)
    mask[0, :300] = 1
    mask[1, :100] = 1
    mask[2, :5] = 1
    m = temperature_bucket_metrics(schedule, 4, mask, bucket_size=128)
    tau = schedule.temperature(torch.arange(300), step=4).double()
    counts = mask.sum(0).double()
    assert m["ead/temperature/decay"] == 45.0
    assert m["ead/temperature/pos_0-128"] == pytest.approx(float((tau[:128] * counts[:128]).sum() / counts[:128].sum()))
    assert m["ead/temperature/pos_256-300"] == pytest.approx(float(tau[256:300].mean()))
    assert m["ead/temperature/mean"] == pytest.approx(float((tau * counts).sum() / counts.sum()))
    assert "ead/temperature/pos_0-128" in temperature_bucket_metrics(schedule, 0, mask[2:], bucket_size=128)
    assert "ead/temperature/pos_128-256" not in temperature_bucket_metrics(schedule, 0, mask[2:], bucket_size=128)


def test_run_script_composes_with_verl_main(tmp_path):
    """run_ead_entropymech.sh -> verl.trainer.main_ppo with the recipe (printed with Hydra's --cfg job)."""
    import subprocess

    recipes = Path(ead_verl.__file__).parent / "recipes"
    for script in recipes.glob("*.sh"):
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0, script
    # no data there: printing the config (--cfg) must not prepare (download) it
    data = tmp_path / "math"
    env = dict(os.environ, PYTHON=sys.executable, DATA_DIR=str(data), MODEL_PATH="/models/tiny", NNODES="2",
               GPUS_PER_NODE="4", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(["bash", str(recipes / "run_ead_entropymech.sh"), "kl_cov", "--cfg", "job", "--resolve"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = OmegaConf.create(proc.stdout)
    assert cfg.actor_rollout_ref.actor.policy_loss.loss_mode == "ead_kl_cov"
    assert cfg.actor_rollout_ref.model.path == "/models/tiny" and cfg.trainer.nnodes == 2
    assert cfg.data.train_files == str(data / "train.parquet") and not data.exists()
    bad = subprocess.run(["bash", str(recipes / "run_ead_entropymech.sh"), "entropy"], capture_output=True, text=True)
    assert bad.returncode == 2 and "clip_cov or kl_cov" in bad.stderr


def test_math_rows_score_with_verls_default_reward():
    import importlib.util

    from verl.utils.reward_score import default_compute_score

    path = Path(ead_verl.__file__).parent / "recipes" / "prepare_math.py"
    spec = importlib.util.spec_from_file_location("ead_prepare_math", path)
    prep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prep)
    row = prep.make_row({"problem": "What is 1/4 + 1/4?", "solution": r"Add: $\boxed{\frac{1}{2}}$."}, 3, "train")
    assert row["reward_model"]["ground_truth"] == r"\frac{1}{2}" and row["extra_info"]["index"] == 3
    assert row["prompt"][0]["content"].endswith(r"within \boxed{}.")
    truth = row["reward_model"]["ground_truth"]
    assert default_compute_score(row["data_source"], r"so it is \boxed{\frac{1}{2}}", truth) == 1.0
    assert default_compute_score(row["data_source"], r"so it is \boxed{\frac{1}{3}}", truth) == 0.0
