"""`ead-ext train`: verl's own RLVR trainer with EAD on a task with a verifier (see ``run.py``)."""
