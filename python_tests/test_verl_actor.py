"""verl's own actor (TrainingWorker + FSDP2 engine, verl 0.9.x) trained with each EAD loss on the CPU.

verl 0.9 replaced ``DataParallelPPOActor`` by ``verl.workers.engine_workers.TrainingWorker`` (what
``ActorRolloutRefWorker`` builds as its actor): ``infer_batch`` is compute_log_prob, ``train_mini_batch``
is update_actor, with verl's ``ppo_loss`` calling the registered policy loss. verl 0.9.1 has no CPU
platform: on a GPU-less machine it falls back to 'nvidia' and its worker fails with
``RuntimeError: Distributed package doesn't have NCCL built in``. The test registers a CPU platform
through verl's PlatformRegistry (``ead_ext.integrations.verl.cpu_platform``), starts a one-process gloo
group, and selects the FSDP engine with verl's ``VERL_ENGINE_DEVICE=cuda`` override (the engine is
registered for cuda/npu only; its code runs on whatever device the platform names).

The worker runs in a subprocess: verl caches the device name at import time, and the process group
must not leak into other tests. Behaviour log-probs come from an EAD rollout sampled here with the
same tiny random-weight Llama (logits / tau_t), so the TIS weights are a real EAD mismatch.
"""
import json
import os
import subprocess
import sys

import pytest
from ead_ext.testing import free_port

verl = pytest.importorskip("verl")
pytest.importorskip("transformers")
from packaging.version import Version  # noqa: E402

if Version(verl.__version__) < Version("0.9.1"):
    # verl 0.9.0's padding helpers (left_right_2_no_padding -> unpad_input) import flash_attn on every
    # non-NPU platform: "ModuleNotFoundError: No module named 'flash_attn'" (verl/utils/attention_utils.py:30);
    # 0.9.1 added pure-torch fallbacks. The loss, config and rollout tests cover 0.9.0.
    pytest.skip(f"verl {verl.__version__}: the actor's padding path needs flash_attn (CUDA only); needs >= 0.9.1",
                allow_module_level=True)

MODES = [("ead_vanilla", "token-mean"), ("ead_dapo", "token-mean"), ("ead_grpo", "seq-mean-token-mean"),
         ("ead_clip_cov", "token-mean"), ("ead_kl_cov", "token-mean")]


def _run_actor(out_path: str) -> None:  # runs in the subprocess
    """In phases: verl's CPU process group, a tiny model, an EAD rollout, verl's actor, its old
    log-probs and the trainer's TIS weights, one training step per EAD loss."""
    # `import verl` loads ead-ext's verl.plugins entry point: the CPU mode (platform, gloo group fix)
    from verl.utils.distributed import initialize_global_process_group_ray

    from ead_ext.integrations.verl import cpu_mode

    assert cpu_mode.is_active()
    initialize_global_process_group_ray()  # verl's own, as its TrainingWorker starts it
    import ead_ext.integrations.verl  # noqa: F401  registers the EAD losses

    hf_model, model_dir = _tiny_model()
    batch, gen = _ead_rollout(hf_model)
    worker = _actor(model_dir)
    results, batch = _old_log_probs_and_weights(worker, hf_model, batch, gen)
    results["modes"] = {mode: _train_step(worker, batch, mode, agg) for mode, agg in MODES}
    with open(out_path, "w") as f:
        json.dump(results, f)


CAP = 2.0  # the TIS cap C of the test


def _tiny_model():
    import tempfile

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model_dir = tempfile.mkdtemp(prefix="ead_verl_actor_")
    hf_cfg = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                         tie_word_embeddings=False, initializer_range=0.25)
    hf_model = LlamaForCausalLM(hf_cfg).eval()
    hf_model.save_pretrained(model_dir)
    return hf_model, model_dir


def _ead_rollout(hf_model):
    """An EAD rollout: tokens sampled at tau_t, behaviour log-probs log_softmax(logits / tau_t), as verl's
    batch holds them (ragged response lengths)."""
    import torch
    from verl import DataProto

    from ead_ext import Schedule

    b, p, r = 8, 4, 8
    schedule = Schedule(tau_max=1.2, tau_min=0.3, d0=0.1, cutoff=2, token_scale=1.0)  # anneals within 8 tokens
    taus = schedule.temperature(torch.arange(r), step=0)
    prompts = torch.randint(3, 128, (b, p))
    seq = prompts.clone()
    behaviour = []
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in range(r):
            logits = hf_model(input_ids=seq).logits[:, -1].float()
            logp = torch.log_softmax(logits / taus[t], dim=-1)
            tok = torch.multinomial(logp.exp(), 1, generator=gen)
            behaviour.append(logp.gather(-1, tok))
            seq = torch.cat([seq, tok], 1)
    responses = seq[:, p:]
    rollout_log_probs = torch.cat(behaviour, 1)
    lengths = torch.tensor([8, 8, 7, 6, 5, 8, 3, 8])
    response_mask = (torch.arange(r)[None] < lengths[:, None]).long()
    attention_mask = torch.cat([torch.ones(b, p, dtype=torch.long), response_mask], 1)
    position_ids = torch.clamp(torch.cumsum(attention_mask, 1) - 1, min=0)
    batch = DataProto.from_dict(
        tensors=dict(prompts=prompts, responses=responses, input_ids=seq, attention_mask=attention_mask,
                     position_ids=position_ids, response_mask=response_mask,
                     rollout_log_probs=rollout_log_probs * response_mask),
        meta_info={"temperature": 1.0},  # the trainer sets meta_info["temperature"] = rollout temperature
    )
    return batch, gen


def _actor(model_dir: str):
    """verl's actor: a TrainingWorker on the FSDP2 engine, fp32, micro-batches of 4."""
    from verl.workers.config import FSDPEngineConfig, HFModelConfig, TrainingWorkerConfig
    from verl.workers.config.optimizer import FSDPOptimizerConfig
    from verl.workers.engine_workers import TrainingWorker

    model_config = HFModelConfig(path=model_dir, load_tokenizer=False, use_remove_padding=False,
                                 enable_gradient_checkpointing=False,
                                 override_config={"attn_implementation": "eager"})
    engine_config = FSDPEngineConfig(strategy="fsdp2", model_dtype="fp32", use_torch_compile=False)
    engine_config.use_dynamic_bsz = False
    engine_config.micro_batch_size_per_gpu = 4
    engine_config.infer_micro_batch_size_per_gpu = 4
    worker = TrainingWorker(TrainingWorkerConfig(
        model_type="language_model", model_config=model_config, engine_config=engine_config,
        optimizer_config=FSDPOptimizerConfig(lr=5e-2, total_training_steps=100), checkpoint_config=None))
    worker.reset()
    return worker


def _old_log_probs_and_weights(worker, hf_model, batch, gen) -> tuple:
    """compute_log_prob as the trainer's _compute_old_log_prob does it (checked against transformers),
    random advantages, and EAD's TIS weights by verl's trainer-side rollout correction: (the figures,
    the corrected batch)."""
    import torch
    from verl.trainer.config import RolloutCorrectionConfig
    from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_add_to_batch
    from verl.utils import tensordict_utils as tu
    from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding

    seq, responses, response_mask = batch.batch["input_ids"], batch.batch["responses"], batch.batch["response_mask"]
    b, r = responses.shape
    p = seq.shape[1] - r
    td = left_right_2_no_padding(batch.to_tensordict())
    tu.assign_non_tensor(td, calculate_entropy=True, calculate_sum_pi_squared=False, compute_loss=False)
    out = worker.infer_batch(td)
    old_log_probs = no_padding_2_padding(tu.get(out, "log_probs"), td).float()
    entropy = no_padding_2_padding(tu.get(out, "entropy"), td).float()
    with torch.no_grad():  # the same target log-probs (tau = 1) straight from transformers
        ref = torch.log_softmax(hf_model(input_ids=seq).logits[:, p - 1:-1].float(), -1)
        ref = ref.gather(-1, responses.unsqueeze(-1)).squeeze(-1)
    batch.batch["old_log_probs"] = old_log_probs
    batch.batch["advantages"] = (torch.randn(b, 1, generator=gen).expand(b, r) * response_mask).contiguous()
    batch, corr_metrics = compute_rollout_correction_and_add_to_batch(
        batch, RolloutCorrectionConfig(rollout_is="token", rollout_is_threshold=CAP, bypass_mode=False))
    return {
        "logprob_max_abs_err_vs_hf": (old_log_probs - ref).mul(response_mask).abs().max().item(),
        "entropy_finite": bool(torch.isfinite(entropy).all()),
        "rollout_corr_metrics": corr_metrics,
        "weights_max": batch.batch["rollout_is_weights"].max().item(),
        "weights_truncated": int((batch.batch["rollout_is_weights"] >= CAP).sum()),
    }, batch


def _train_step(worker, batch, mode: str, agg: str) -> dict:
    """One update_actor step with the EAD loss ``mode``: verl's metrics and the largest parameter change."""
    from functools import partial

    from verl.trainer.config import RolloutCorrectionConfig
    from verl.utils import tensordict_utils as tu
    from verl.workers.config import ActorConfig, PolicyLossConfig
    from verl.workers.utils.losses import ppo_loss
    from verl.workers.utils.padding import left_right_2_no_padding

    b = batch.batch["responses"].shape[0]
    actor_config = ActorConfig(
        strategy="fsdp", rollout_n=1, ppo_mini_batch_size=b, ppo_micro_batch_size_per_gpu=4,
        clip_ratio_low=0.2, clip_ratio_high=0.28, loss_agg_mode=agg, entropy_coeff=0.0,
        policy_loss=PolicyLossConfig(
            loss_mode=mode, clip_cov_ratio=0.2, clip_cov_lb=0.0, clip_cov_ub=100.0, kl_cov_ratio=0.2,
            rollout_correction=RolloutCorrectionConfig(rollout_is="token", rollout_is_threshold=CAP)))
    worker.set_loss_fn(partial(ppo_loss, config=actor_config))
    td = left_right_2_no_padding(batch.to_tensordict())
    tu.assign_non_tensor(td, calculate_entropy=True, distillation_use_topk=False, distillation_only=False,
                         global_batch_size=b, mini_batch_size=b, epochs=1, seed=1,
                         dataloader_kwargs={"shuffle": False}, compute_loss=True)
    before = [q.detach().clone() for q in worker.engine.module.parameters()]
    metrics = tu.get(worker.train_mini_batch(td), "metrics")
    change = max((q.detach() - q0).abs().max().item() for q, q0 in zip(worker.engine.module.parameters(), before))
    flat = {k: [float(x) for x in (v if isinstance(v, list) else [v])] for k, v in metrics.items()}
    return {"metrics": flat, "param_change": change}


@pytest.fixture(scope="module")
def actor_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("actor") / "results.json"
    env = dict(os.environ, RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(free_port()), VERL_ENGINE_DEVICE="cuda", OMP_NUM_THREADS="1",
               TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, __file__, str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    with open(out) as f:
        return json.load(f)


def test_compute_log_prob_matches_transformers(actor_results):
    # verl's FSDP engine computes in bf16 (mixed precision): agree to bf16 resolution
    assert actor_results["logprob_max_abs_err_vs_hf"] < 0.1
    assert actor_results["entropy_finite"]


def test_ead_rollout_gives_a_real_mismatch(actor_results):
    m = actor_results["rollout_corr_metrics"]
    assert m["rollout_corr/rollout_is_max"] <= 2.0
    assert m["rollout_corr/rollout_is_mean"] != pytest.approx(1.0, abs=1e-3)
    assert actor_results["weights_max"] <= 2.0


@pytest.mark.parametrize("mode", [m for m, _ in MODES])
def test_update_with_each_ead_loss(actor_results, mode):
    res = actor_results["modes"][mode]
    metrics = res["metrics"]
    assert res["param_change"] > 0
    for key in ["actor/pg_loss", "loss", "grad_norm", "ead/tis_weight_mean", "ead/tis_weight_max",
                "ead/tis_truncated_frac", "actor/ppo_kl"]:
        assert key in metrics, (key, sorted(metrics))
        assert all(map(lambda v: v == v and abs(v) != float("inf"), metrics[key])), (key, metrics[key])
    if mode != "ead_kl_cov":
        assert "actor/pg_clipfrac" in metrics
    assert max(metrics["ead/tis_weight_max"]) <= 2.0


if __name__ == "__main__":
    _run_actor(sys.argv[1])
