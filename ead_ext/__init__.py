"""ead-ext: Exploratory Annealed Decoding (arXiv 2510.05251) for RLVR rollouts.

``ead_ext.sample`` draws one token per row at a per-row temperature (given, or from
the EAD schedule at the row's position) and returns the behaviour log-prob, and
optionally the tau = 1 log-prob and the entropy, in one fused pass over the logits.
``ead_ext.backend_info()`` says whether the compiled op serves (and on which devices)
or the pure-PyTorch reference does.
"""
from ._ops import InvalidRowError, SampleOutput, backend_info, has_compiled_op, sample
from .schedule import PRESETS, Schedule

__version__ = "0.1.0"
__all__ = ["sample", "SampleOutput", "InvalidRowError", "Schedule", "PRESETS", "backend_info", "has_compiled_op",
           "__version__"]
