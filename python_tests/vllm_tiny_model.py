"""The tiny random Llama + local BPE tokenizer the vLLM tests run on (see ead_ext.integrations.vllm.tiny_model)."""
from ead_ext.integrations.vllm.tiny_model import TINY_CORPUS, ensure_tiny_model, make_tiny_model  # noqa: F401
