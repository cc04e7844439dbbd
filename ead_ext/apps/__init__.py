"""The applications built on the ead-ext library: the ``ead-ext`` command (:mod:`.cli`) and what its
commands run (:mod:`.evaluate`, :mod:`.generate`, :mod:`.serve`, :mod:`.demo`, :mod:`.training`), the
result tables and reports (:mod:`.results`, :mod:`.tables`, :mod:`.plots`), the vLLM engine they share
(:mod:`.vllm_engine`), and their embedded default: the tasks with their verifiers (:mod:`.tasks`) and
the tiny models trained on them (:mod:`.tiny_model`, shipped in ``assets/``).

Dependencies run one way: applications -> integrations (``ead_ext.integrations``) -> library
(``ead_ext``: schedule, ops, reference, metrics) -> compiled op; nothing below imports from here.
"""
