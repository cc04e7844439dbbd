"""Helpers for testing and benchmarking ead-ext (as ``torch.testing`` is for PyTorch).

The logits generators the tests and benchmarks share (:mod:`.logits`), a free loopback port
(:mod:`.net`); as submodules, a tiny random Llama made on the spot (:mod:`.random_llama`, needs
transformers and tokenizers) and ``ead-ext serve`` as a subprocess (:mod:`.serve`, needs requests).
Nothing here is imported by the library itself.
"""
from .logits import flat_logits, realistic_logits
from .net import free_port

__all__ = ["flat_logits", "realistic_logits", "free_port"]
