"""EAD-TIS policy losses through verl's own registry, configs and rollout-correction code (CPU)."""
import inspect
import math

import pytest
import torch

verl = pytest.importorskip("verl")
core_algos = pytest.importorskip("verl.trainer.ppo.core_algos")

import ead_ext.integrations.verl as ead_verl  # noqa: E402  (registers the EAD losses)
from ead_ext.integrations.verl import EADConfigError, ead_tis_weights  # noqa: E402
from verl.trainer.config import RolloutCorrectionConfig  # noqa: E402
from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_rejection_mask  # noqa: E402
from verl.workers.config import ActorConfig, PolicyLossConfig  # noqa: E402

get_policy_loss_fn = core_algos.get_policy_loss_fn
CAP = 2.0
BUILTIN = {"ead_vanilla": ("vanilla", "token-mean"), "ead_dapo": ("vanilla", "token-mean"),
           "ead_grpo": ("vanilla", "seq-mean-token-mean"), "ead_clip_cov": ("clip_cov", "token-mean"),
           "ead_kl_cov": ("kl_cov", "token-mean")}


def actor_config(loss_mode, cap=CAP, **policy_loss):
    policy_loss.setdefault("clip_cov_ratio", 0.2)
    policy_loss.setdefault("clip_cov_lb", 0.0)
    policy_loss.setdefault("clip_cov_ub", 100.0)
    policy_loss.setdefault("kl_cov_ratio", 0.2)
    return ActorConfig(
        strategy="fsdp", rollout_n=1, ppo_micro_batch_size_per_gpu=1,
        clip_ratio=0.2, clip_ratio_low=0.2, clip_ratio_high=0.28,
        policy_loss=PolicyLossConfig(
            loss_mode=loss_mode,
            rollout_correction=RolloutCorrectionConfig(rollout_is="token", rollout_is_threshold=cap, bypass_mode=False),
            **policy_loss,
        ),
    )


def batch(seed=0, b=4, t=12):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(b, t, generator=g) * 3 - 0.05
    log_prob = (old + 0.3 * torch.randn(b, t, generator=g)).requires_grad_(True)
    adv = (3 * torch.randn(b, 1, generator=g)).expand(b, t).contiguous()
    lengths = torch.tensor([t, t - 3, 5, 1][:b])
    mask = (torch.arange(t)[None] < lengths[:, None]).float()
    return old, log_prob, adv, mask


def call(mode, old, log_prob, adv, mask, agg, config, weights):
    return get_policy_loss_fn(mode)(old, log_prob, adv, mask, agg, config, weights)


def test_registered_with_verl_signature():
    ref = inspect.signature(get_policy_loss_fn("vanilla"))
    for mode in ead_verl.EAD_LOSS_MODES:
        assert mode in core_algos.POLICY_LOSS_REGISTRY
        sig = inspect.signature(get_policy_loss_fn(mode))
        assert [(p.name, p.default, p.kind) for p in sig.parameters.values()] == \
               [(p.name, p.default, p.kind) for p in ref.parameters.values()]


@pytest.mark.parametrize("mode", list(BUILTIN))
def test_no_mismatch_equals_builtin(mode):
    base, agg = BUILTIN[mode]
    old, log_prob, adv, mask = batch()
    # rollout_log_probs == old_log_prob: verl's token TIS weights are 1 on every valid token
    weights, _ = ead_tis_weights(old, old.clone(), mask, cap=CAP)
    assert torch.equal(weights, mask)
    cfg = actor_config(mode)
    torch.manual_seed(7)  # clip_cov draws which tokens to detach with randperm
    loss, metrics = call(mode, old, log_prob, adv, mask, agg, cfg, weights)
    (g_ead,) = torch.autograd.grad(loss, log_prob)
    torch.manual_seed(7)
    ref, ref_metrics = call(base, old, log_prob, adv, mask, agg, actor_config(base), None)
    (g_ref,) = torch.autograd.grad(ref, log_prob)
    assert abs(loss.item() - ref.item()) <= 1e-6
    torch.testing.assert_close(g_ead, g_ref, rtol=0, atol=1e-6)
    for k, v in ref_metrics.items():
        assert metrics[k] == pytest.approx(v, abs=1e-6)
    assert metrics["ead/tis_weight_mean"] == 1.0 and metrics["ead/tis_weight_max"] == 1.0
    assert metrics["ead/tis_truncated_frac"] == 0.0
    if base == "clip_cov":
        assert ref_metrics["actor/pg_clipfrac"] > 0  # the covariance clipping did act


def hand_vanilla(old, log_prob, adv, mask, w, agg, eps_low=0.2, eps_high=0.28, clip_c=3.0):
    ratio = torch.exp(torch.clamp(log_prob - old, -20, 20))
    l1 = -adv * ratio
    l2 = -adv * torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    c1 = torch.maximum(l1, l2)
    c2 = torch.minimum(-adv * clip_c, c1)
    pg = torch.where(adv < 0, c2, c1) * w
    if agg == "token-mean":
        return (pg * mask).sum() / mask.sum()
    per_seq = (pg * mask).sum(-1) / (mask.sum(-1) + 1e-8)
    valid = (mask.sum(-1) > 0).float()
    return (per_seq * valid).sum() / valid.sum()


@pytest.mark.parametrize("mode", ["ead_vanilla", "ead_dapo", "ead_grpo"])
def test_known_mismatch_equals_hand_computed_tis(mode):
    _, agg = BUILTIN[mode]
    old, log_prob, adv, mask = batch(seed=3)
    # behaviour log-probs: sharper (annealed) on some tokens, flatter on others
    shift = torch.linspace(-2.0, 1.5, old.numel()).reshape(old.shape)
    rollout = old + shift
    weights, _ = ead_tis_weights(old, rollout, mask, cap=CAP)
    expected_w = torch.minimum(torch.exp(old - rollout), torch.tensor(CAP)) * mask
    torch.testing.assert_close(weights, expected_w, rtol=1e-6, atol=0)
    loss, metrics = call(mode, old, log_prob, adv, mask, agg, actor_config(mode), weights)
    hand = hand_vanilla(old, log_prob.detach(), adv, mask, expected_w, agg)
    assert loss.item() == pytest.approx(hand.item(), abs=1e-6)
    # applied exactly once: differs from the unweighted and from the doubly weighted objective
    once_more = hand_vanilla(old, log_prob.detach(), adv, mask, expected_w ** 2, agg)
    assert abs(loss.item() - once_more.item()) > 1e-3
    valid = mask.bool()
    assert metrics["ead/tis_weight_mean"] == pytest.approx(expected_w[valid].mean().item(), abs=1e-6)
    assert metrics["ead/tis_weight_max"] == pytest.approx(min(CAP, expected_w[valid].max().item()))
    assert metrics["ead/tis_truncated_frac"] == pytest.approx(
        ((old - rollout)[valid] >= math.log(CAP)).float().mean().item())


def test_trainer_path_weights_match():
    """The weights verl's trainer computes (compute_rollout_correction_and_rejection_mask) are ours."""
    old, _, _, mask = batch(seed=5)
    rollout = old - torch.linspace(-3, 3, old.numel()).reshape(old.shape)
    proto, new_mask, metrics = compute_rollout_correction_and_rejection_mask(
        old, rollout, mask, rollout_is="token", rollout_is_threshold=CAP)
    ours, _ = ead_tis_weights(old, rollout, mask, cap=CAP)
    assert torch.equal(proto.batch["rollout_is_weights"], ours)
    assert torch.equal(new_mask, mask)
    assert "rollout_corr/rollout_is_ratio_fraction_high" in metrics


def test_truncation_at_cap_is_exact():
    c = 1.75
    old = torch.zeros(1, 6)
    rollout = torch.tensor([[-10.0, -math.log(c), -0.5, 0.0, 0.7, -100.0]])  # ratio e^10, C, e^.5, 1, e^-.7, huge
    mask = torch.ones(1, 6)
    w, _ = ead_tis_weights(old, rollout, mask, cap=c)
    assert w[0, 0].item() == c and w[0, 5].item() == c
    assert w[0, 1].item() == pytest.approx(c, rel=1e-6)
    assert w[0, 2].item() == pytest.approx(math.exp(0.5), rel=1e-7)
    assert w[0, 3].item() == 1.0
    assert w[0, 4].item() == pytest.approx(math.exp(-0.7), rel=1e-7)
    assert not w.requires_grad
    cfg = actor_config("ead_vanilla", cap=c)
    log_prob = torch.zeros(1, 6, requires_grad=True)
    adv = torch.ones(1, 6)
    loss, metrics = call("ead_vanilla", old, log_prob, adv, mask, "token-mean", cfg, w)
    assert loss.item() == pytest.approx(-w.mean().item(), abs=1e-7)  # ratio 1: pg term = -A * w
    assert metrics["ead/tis_weight_max"] == c
    assert metrics["ead/tis_truncated_frac"] >= 2 / 6


@pytest.mark.parametrize("mode", list(BUILTIN))
def test_gradients_finite_for_extreme_ratios_and_masked_rows(mode):
    _, agg = BUILTIN[mode]
    b, t = 3, 8
    ratios = torch.tensor([1e-30, 1e-10, 1e-3, 1.0, 1e3, 1e10, 1e30, 1.0])
    old = torch.full((b, t), -1.0)
    rollout = old - torch.log(ratios)[None].expand(b, t)  # exp(old - rollout) = ratios
    log_prob = (old + torch.tensor([-40.0, -5, 0, 0.1, 5, 40, -0.2, 0.0])[None]).clone().requires_grad_(True)
    adv = torch.tensor([[1.0], [-1.0], [2.0]]).expand(b, t).contiguous()
    mask = torch.ones(b, t)
    mask[2] = 0  # a fully masked row
    w, _ = ead_tis_weights(old, rollout, mask, cap=CAP)
    assert torch.isfinite(w).all() and w.max() <= CAP
    loss, metrics = call(mode, old, log_prob, adv, mask, agg, actor_config(mode), w)
    (g,) = torch.autograd.grad(loss, log_prob)
    assert torch.isfinite(loss) and torch.isfinite(g).all()
    assert torch.all(g[2] == 0)
    assert all(math.isfinite(v) for v in metrics.values())


def test_missing_weights_is_a_clear_error():
    old, log_prob, adv, mask = batch()
    for mode in BUILTIN:
        with pytest.raises(EADConfigError, match="rollout_is_weights"):
            call(mode, old, log_prob, adv, mask, BUILTIN[mode][1], actor_config(mode), None)


def test_aggregation_checks():
    old, log_prob, adv, mask = batch()
    w, _ = ead_tis_weights(old, old, mask)
    with pytest.raises(EADConfigError, match="token-mean"):
        call("ead_dapo", old, log_prob, adv, mask, "seq-mean-token-mean", actor_config("ead_dapo"), w)
    with pytest.raises(EADConfigError, match="seq-mean-token-mean"):
        call("ead_grpo", old, log_prob, adv, mask, "token-mean", actor_config("ead_grpo"), w)
    with pytest.raises(ValueError, match="detached"):
        call("ead_vanilla", old, log_prob, adv, mask, "token-mean", actor_config("ead_vanilla"),
             w.clone().requires_grad_(True))


def test_one_loss_table_behind_registry_checks_cli_and_recipes():
    """integrations/loss_modes.py is the one table: verl's registry holds every row, the EAD config
    checks accept exactly its modes, `ead-ext train --loss` offers exactly its rows with a recipe, and
    each such recipe (config/ead_<name>.yaml, composed by Hydra) sets the row's loss mode and
    aggregation; no recipe exists without a row."""
    from hydra import compose, initialize_config_dir

    from ead_ext.integrations import loss_modes
    from ead_ext.integrations.verl import settings
    from ead_ext.apps.training.cli import build_parser
    from ead_ext.apps.training.run import CONFIG_DIR

    table = loss_modes.by_mode()
    assert set(ead_verl.EAD_LOSS_MODES) == set(table) and set(table) <= set(core_algos.POLICY_LOSS_REGISTRY)
    assert {m: (r.wraps, r.required_agg) for m, r in table.items()} == ead_verl.EAD_LOSS_MODES
    assert set(settings._ACCEPTED_LOSS_MODES) == set(table)
    (loss_arg,) = [a for a in build_parser()._actions if a.dest == "loss"]
    assert set(loss_arg.choices) == set(loss_modes.cli_losses())
    recipes = {p.stem for p in CONFIG_DIR.glob("ead_*.yaml")} - {"ead_common"}
    assert recipes == {f"ead_{name}" for name in loss_modes.cli_losses()}
    for name, row in loss_modes.cli_losses().items():
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            cfg = compose(config_name=f"ead_{name}")
        assert cfg.actor_rollout_ref.actor.policy_loss.loss_mode == row.mode, name
        assert cfg.actor_rollout_ref.actor.loss_agg_mode == row.cli_agg, name
        assert row.required_agg in (None, row.cli_agg), name
