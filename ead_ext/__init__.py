"""ead-ext: Exploratory Annealed Decoding (arXiv 2510.05251) for RLVR rollouts.

``ead_ext.sample`` draws one token per row at a per-row temperature (given, or from
the EAD schedule at the row's position) and returns the behaviour log-prob, and
optionally the tau = 1 log-prob and the entropy, in one fused pass over the logits.
``ead_ext.backend_info()`` says whether the compiled op serves (and on which devices)
or the pure-PyTorch reference does; ``ead_ext.sample_at_temperatures`` is the op at given per-row
temperatures with no argument conversion (what the vLLM samplers call).

This top level is the library (:mod:`.schedule`, :mod:`.ops`, :mod:`.reference`, :mod:`.metrics`);
the integrations are ``ead_ext.integrations`` (vLLM, verl), the applications ``ead_ext.apps`` (the
``ead-ext`` command, evaluation, training, results, the embedded tasks and tiny models) and the test
helpers ``ead_ext.testing``. Nothing in the library imports the integrations or the applications.
"""
from .ops import InvalidRowError, SampleOutput, backend_info, has_compiled_op, sample, sample_at_temperatures
from .schedule import PRESETS, SHAPES, Schedule, decay_for_length

__version__ = "0.1.0"
__all__ = ["sample", "sample_at_temperatures", "SampleOutput", "InvalidRowError", "Schedule", "PRESETS", "SHAPES", "decay_for_length",
           "backend_info", "has_compiled_op", "__version__"]
