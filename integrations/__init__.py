"""Integrations of ead_ext with rollout and training frameworks (vLLM, verl).

Installed as ``ead_ext.integrations``; each framework's shim is a subpackage that
imports its framework lazily, so ``import ead_ext`` never needs vLLM or verl.
"""
