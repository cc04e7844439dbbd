"""Actor classes the Ray test imports by name in its workers (a class Ray can pickle by reference,
as it does ead-ext's own workers): the pre-fix shape of the V1 EAD worker, for the regression test."""
from ead_ext.integrations.verl.agent_loop import EADAgentLoopWorkerMixin
from ead_ext.integrations.verl.agent_loop_tq import _AgentLoopWorkerTQ


class WorkerWithoutOwnInit(EADAgentLoopWorkerMixin, _AgentLoopWorkerTQ):
    """EADAgentLoopWorkerTQ as it was before the fix: no __init__ of its own."""
