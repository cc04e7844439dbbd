"""A tiny Llama model with random weights and a locally trained BPE tokenizer, for the vLLM tests
(test-only: the trained models ``ead-ext`` ships are ead_ext/apps/assets/tiny_*, made by ead_ext.apps.tiny_model).

Everything is made on the spot (no hub access): ``make_random_llama(path)`` writes a directory that
``vllm.LLM(model=path)`` and ``transformers.AutoModelForCausalLM.from_pretrained(path)`` both load.
The weights are drawn with ``initializer_range`` 0.25 (not the default 0.02, which gives
near-uniform logits where temperature changes nothing) so the next-token distributions are peaked
and the EAD schedule visibly changes what is drawn.

Used by the vLLM tests and bench/bench_vllm_overhead.py.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["make_random_llama", "TINY_CORPUS", "ensure_random_llama"]

# The CPU attention of vLLM supports head sizes 32, 64, 80, ...: hidden 64 with 2 heads.
_CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    vocab_size=1024,
    max_position_embeddings=512,
    initializer_range=0.25,
    rms_norm_eps=1e-6,
    tie_word_embeddings=False,
)

TINY_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Solve for x: 2x + 3 = 7, so x = 2.",
    "Annealed decoding lowers the temperature as the answer grows longer.",
    "Reinforcement learning with verifiable rewards samples many answers per prompt.",
    "A language model predicts the next token from the tokens before it.",
    "What is the sum of 12 and 30? The answer is 42.",
    "Exploration early, exploitation late: hot first tokens, cold last tokens.",
    "def add(a, b):\n    return a + b\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
    "Question: how many legs does a spider have? Answer: eight.",
]


def make_random_llama(path: str | os.PathLike, seed: int = 0) -> str:
    """Writes the tiny model and tokenizer to ``path`` (created) and returns it as a string."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=_CONFIG["vocab_size"], special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(TINY_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.save_pretrained(str(path))

    torch.manual_seed(seed)
    config = LlamaConfig(**_CONFIG, bos_token_id=1, eos_token_id=2, torch_dtype="float32")
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(path), safe_serialization=True)
    # vLLM reads generation_config.json for defaults; keep it neutral (no sampling overrides).
    (path / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2}))
    return str(path)


def ensure_random_llama(path: str | os.PathLike, seed: int = 0) -> str:
    """``make_random_llama`` unless ``path`` already holds one."""
    p = Path(path)
    if (p / "config.json").exists() and (p / "tokenizer.json").exists() and any(p.glob("*.safetensors")):
        return str(p)
    return make_random_llama(p, seed)
