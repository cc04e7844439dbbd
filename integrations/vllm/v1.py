"""EAD for vLLM's V1 model runner (``vllm/v1/worker/gpu_model_runner.py``, the CPU runner, and GPUs
with ``VLLM_USE_V2_MODEL_RUNNER=0``), vLLM 0.24-0.33 (0.34 deleted it; :mod:`.v2` serves there).

Two classes:

* :class:`EADLogitsProcessor`, a V1 ``LogitsProcessor`` that only *holds state*: for every batch row
  of an EAD request, its resolved schedule, its RNG seed and a live reference to its output token
  list (so ``len()`` of it is the 0-based position of the token being sampled), kept in step with the
  persistent batch through ``BatchUpdate`` (removed, added, moved/swapped; a preempted request comes
  back as an add with its tokens so far). Its ``validate_params`` rejects bad ``extra_args["ead"]``
  at request admission (HTTP 400). ``apply`` is the identity: the sampler does the work.
* :class:`EADSampler`, a subclass of ``vllm.v1.sample.sampler.Sampler``. Batches without EAD rows go
  to the stock ``forward`` untouched. With EAD rows it runs the stock pre-processing (float32,
  allowed/bad words, min-tokens, logit bias, penalties), then the fused ``ead.sample`` op for EAD rows
  (tau_t from the position, Philox keyed by (seed, position)), and vLLM's own sampling code with the
  EAD temperature written into the temperature vector for everything the op does not serve:
  plain rows, EAD rows with top-k/top-p/min-p, top-n or specific-token log-probs, raw/“logits”
  log-prob modes, speculative-decoding bonus tokens.

No device-to-host synchronisation is added to the hot path: per step the host builds the positions
(and, on batch changes, the per-row seeds and schedule parameters) from Python state and copies them
to the device.
"""
from __future__ import annotations

import dataclasses
import secrets
from typing import Optional

import torch
from vllm.v1.outputs import LogprobsTensors, SamplerOutput
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates
from vllm.v1.sample.ops.logprobs import batched_count_greater_than
from vllm.v1.sample.sampler import Sampler

import ead_ext  # noqa: F401  (loads torch.ops.ead)
from ead_ext.ops import sample_at_temperatures
from ead_ext.schedule import schedule_temperature

from .features import validation_error
from .hooks import plugin_loader_patch, sampler_patch
from .log import announce, logger
from .params import EADParams, EADParamsError
from .rules import fused_op_serves, validate_sampling_params
from .trace import tracer

__all__ = ["EADLogitsProcessor", "EADSampler", "patches"]

_SEED_MASK = (1 << 63) - 1


class _Row:
    __slots__ = ("ead", "seed", "out_ids", "fused_ok", "prompt_ids")

    def __init__(self, ead: EADParams, seed: int, out_ids: list, fused_ok: bool, prompt_ids=None):
        self.ead = ead
        self.seed = seed
        self.out_ids = out_ids
        self.fused_ok = fused_ok
        self.prompt_ids = prompt_ids  # kept for the opt-in trace (trace.py)


class EADLogitsProcessor(LogitsProcessor):
    """Holds the EAD state of each batch row (see the module docstring). Does not change logits."""

    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        self.device = device
        self.rows: dict[int, _Row] = {}
        self.version = 0  # bumped on every change of the EAD rows

    @classmethod
    def validate_params(cls, sampling_params) -> None:
        try:
            validate_sampling_params(sampling_params)
        except EADParamsError as e:  # vLLM's own class: a clean HTTP 400 on every release (features.py)
            raise validation_error(str(e)) from e

    def is_argmax_invariant(self) -> bool:
        # Only state: it sits in the argmax-invariant list, whose apply() is called for random rows only.
        return True

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        return logits

    def _new_state(self, params, prompt_tok_ids, output_tok_ids) -> Optional[_Row]:
        # Validated at admission; a request that reaches the worker is well-formed.
        ead = validate_sampling_params(params)
        if ead is None:
            return None
        seed = params.seed if params.seed is not None else secrets.randbits(63)
        return _Row(ead, int(seed) & _SEED_MASK, output_tok_ids, fused_op_serves(params), prompt_tok_ids)

    def update_state(self, batch_update: Optional[BatchUpdate]) -> None:
        if process_dict_updates(self.rows, batch_update, self._new_state):
            self.version += 1


class _BatchCache:
    """Per-batch-layout tensors (rebuilt when the EAD rows or the batch size change)."""

    __slots__ = ("key", "idx", "idx_dev", "all_ead", "fused_mask", "fused_idx_dev", "all_fused", "rows",
                 "tau_max", "tau_min", "decay", "cutoff", "token_scale", "shape", "shapes", "step_factor", "seeds")


class EADSampler(Sampler):
    """vLLM's V1 ``Sampler`` with the fused EAD op for rows whose request carries ``extra_args["ead"]``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._proc_cache: tuple = (None, None)
        self._batch: Optional[_BatchCache] = None
        self._warned_raw = False
        self._warned_invalid = False
        announce("V1")

    # -- state ---------------------------------------------------------------------------------
    def _find_proc(self, sampling_metadata) -> Optional[EADLogitsProcessor]:
        procs = sampling_metadata.logitsprocs
        if self._proc_cache[0] is procs:
            return self._proc_cache[1]
        found = None
        for p in procs.all:
            if isinstance(p, EADLogitsProcessor):
                found = p
                break
        self._proc_cache = (procs, found)
        return found

    def _batch_state(self, proc: EADLogitsProcessor, B: int, device: torch.device) -> _BatchCache:
        key = (id(proc), proc.version, B, device)
        c = self._batch
        if c is not None and c.key == key:
            return c
        c = _BatchCache()
        c.key = key
        idx = sorted(i for i in proc.rows if i < B)
        rows = [proc.rows[i] for i in idx]
        c.idx, c.rows = idx, rows
        c.all_ead = len(idx) == B
        c.idx_dev = torch.tensor(idx, dtype=torch.long).to(device, non_blocking=True)
        fused = [r.fused_ok for r in rows]
        c.all_fused = all(fused)
        c.fused_mask = fused
        c.fused_idx_dev = torch.tensor([i for i, f in zip(idx, fused) if f], dtype=torch.long).to(
            device, non_blocking=True)
        sched = [r.ead for r in rows]
        c.tau_max = torch.tensor([e.schedule.tau_max for e in sched], dtype=torch.float64)
        c.tau_min = torch.tensor([e.schedule.tau_min for e in sched], dtype=torch.float64)
        c.decay = torch.tensor([e.decay for e in sched], dtype=torch.float64)
        c.cutoff = torch.tensor([e.schedule.cutoff for e in sched], dtype=torch.int64)
        c.token_scale = torch.tensor([e.schedule.token_scale for e in sched], dtype=torch.float64)
        codes = [e.shape_code for e in sched]
        c.shapes = sorted(set(codes))
        c.shape = c.shapes[0] if len(c.shapes) == 1 else torch.tensor(codes, dtype=torch.int64)
        c.step_factor = torch.tensor([e.step_factor for e in sched], dtype=torch.float64)
        c.seeds = torch.tensor([r.seed for r in rows], dtype=torch.int64).to(device, non_blocking=True)
        self._batch = c
        return c

    @staticmethod
    def _row_temperatures(c: _BatchCache, positions: torch.Tensor) -> torch.Tensor:
        """tau_t for the EAD rows (host, float64 then float32 once: bit-equal to Schedule.temperature)."""
        return schedule_temperature(positions, c.tau_max, c.tau_min, c.decay, c.cutoff, c.token_scale, c.shape,
                                    c.step_factor, present=c.shapes)

    # -- sampling ------------------------------------------------------------------------------
    def forward(self, logits, sampling_metadata, predict_bonus_token: bool = False,
                logprobs_mode_override=None) -> SamplerOutput:
        proc = self._find_proc(sampling_metadata)
        if proc is None or not proc.rows:
            return super().forward(logits, sampling_metadata, predict_bonus_token, logprobs_mode_override)
        B = logits.shape[0]
        device = logits.device
        c = self._batch_state(proc, B, device)
        if not c.idx:
            return super().forward(logits, sampling_metadata, predict_bonus_token, logprobs_mode_override)

        positions = torch.tensor([len(r.out_ids) for r in c.rows], dtype=torch.int64)
        tau_host = self._row_temperatures(c, positions)
        tau = tau_host.to(device, non_blocking=True)
        positions_dev = positions.to(device, non_blocking=True)

        logprobs_mode = logprobs_mode_override or self.logprobs_mode
        num_logprobs = sampling_metadata.max_num_logprobs
        if num_logprobs is not None and logprobs_mode == "raw_logprobs" and not self._warned_raw:
            self._warned_raw = True
            logger.warning(
                "EAD requests asked for log-probs, but the engine runs with logprobs_mode='raw_logprobs': "
                "the returned log-probs are taken at tau = 1, not at the EAD temperature tau_t (the "
                "behaviour policy). For truncated importance sampling start vLLM with "
                "logprobs_mode='processed_logprobs' (--logprobs-mode processed_logprobs).")

        # The EAD temperature, written where vLLM's own code will read it. EAD rows carry temperature
        # 1.0 (others are refused), so the batch is not all-greedy and vLLM has a temperature tensor.
        temperature = sampling_metadata.temperature.clone()
        temperature.index_copy_(0, c.idx_dev, tau)
        md = dataclasses.replace(sampling_metadata, temperature=temperature)

        fast = (not predict_bonus_token
                and not sampling_metadata.logprob_token_ids
                and (num_logprobs is None or (num_logprobs == 0 and logprobs_mode == "processed_logprobs")))
        if not fast or not c.fused_idx_dev.numel():
            # vLLM's own sampling with tau_t as the EAD rows' temperature.
            return super().forward(logits, md, predict_bonus_token, logprobs_mode_override)

        # Stock pre-processing, as Sampler.forward does it.
        logits = logits.to(torch.float32)
        logits = self.apply_logits_processors(logits, md, predict_bonus_token)

        if c.all_ead and c.all_fused:
            tokens, lp = self._fused(logits, tau, c.seeds, positions_dev)
            sampled = tokens
        else:
            fidx = c.fused_idx_dev
            fsel = [i for i, f in enumerate(c.fused_mask) if f]
            fsel_t = torch.tensor(fsel, dtype=torch.long).to(device, non_blocking=True)
            tok_f, _ = self._fused(logits.index_select(0, fidx), tau.index_select(0, fsel_t),
                                   c.seeds.index_select(0, fsel_t), positions_dev.index_select(0, fsel_t))
            # vLLM's code for the other rows (it scales logits in place: keep a copy for log-probs).
            work = logits.clone() if num_logprobs is not None else logits
            sampled, processed = self.sample(work, md)
            sampled = sampled.long()
            sampled.index_copy_(0, fidx, tok_f)
            lp = None
            if num_logprobs is not None:
                if processed is None:
                    processed = self.compute_logprobs(logits.div_(md.temperature.unsqueeze(1)))
                lp = processed.gather(-1, sampled.unsqueeze(-1)).squeeze(-1)

        tr = tracer()
        if tr is not None:
            tr.record(c.rows, positions, tau_host, sampled.index_select(0, c.idx_dev),
                      lp.index_select(0, c.idx_dev) if lp is not None else None)
        logprobs_tensors = None
        if num_logprobs is not None:  # == 0: the sampled token's log-prob and rank
            # rank of the sampled token (1 = argmax): tau > 0 keeps the order of the logits.
            chosen = logits.gather(-1, sampled.unsqueeze(-1))
            if logits.device.type == "cpu":  # vLLM's compiled counter costs an inductor build on CPUs
                ranks = (logits >= chosen).sum(-1)
            else:
                ranks = batched_count_greater_than(logits, chosen)
            logprobs_tensors = LogprobsTensors(sampled.to(torch.int32).unsqueeze(-1), lp.unsqueeze(-1), ranks)
        return SamplerOutput(sampled_token_ids=sampled.to(torch.int32).unsqueeze(-1),
                             logprobs_tensors=logprobs_tensors)

    def _fused(self, logits, tau, seeds, offsets):
        tokens, lp, _, _ = sample_at_temperatures(logits, tau, seeds, offsets)
        # Rows the op flags (NaN / +inf logits, no finite logit) come back as -1: they become token 0
        # with a NaN log-prob (visible to the caller), never an out-of-range id in the engine.
        bad = tokens < 0
        if logits.device.type == "cpu":  # no device sync on the CPU: name the rows
            if bool(bad.any()) and not self._warned_invalid:
                self._warned_invalid = True
                logger.error("EAD sampler: %d row(s) have NaN/+inf or no finite logits; they get token 0 "
                             "with a NaN log-prob (this warning is shown once).", int(bad.sum()))
        tokens = tokens.masked_fill(bad, 0)
        lp = lp.masked_fill(bad, float("nan"))
        return tokens, lp


def patches() -> list:
    """What installs EAD on the V1 runner: the state processor in its plugin loader, the sampler."""
    return [plugin_loader_patch("vllm.v1.sample.logits_processor", "_load_logitsprocs_plugins",
                                "cached_load_custom_logitsprocs", EADLogitsProcessor,
                                why="per-row EAD state and the admission check on the V1 runner"),
            sampler_patch("vllm.v1.sample.sampler", EADSampler, why="EAD rows drawn by the fused op (V1 runner)")]
