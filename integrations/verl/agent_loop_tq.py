"""EAD agent-loop manager for verl's default V1 trainer (``trainer.use_v1=true``, TransferQueue).

Use ``actor_rollout_ref.rollout.agent.agent_loop_manager_class=ead_ext.integrations.verl.agent_loop_tq.EADAgentLoopManagerTQ``.
See ``agent_loop.py`` for the hook.
"""
from __future__ import annotations

import ray
from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopManagerTQ, AgentLoopWorkerTQ

from .agent_loop import EADAgentLoopWorkerMixin, _config_of
from .settings import check_ead_config

__all__ = ["EADAgentLoopWorkerTQ", "EADAgentLoopManagerTQ"]

# verl declares AgentLoopWorkerTQ with @ray.remote; subclass the plain class underneath.
_AgentLoopWorkerTQ = getattr(AgentLoopWorkerTQ, "__ray_actor_class__", AgentLoopWorkerTQ)


class EADAgentLoopWorkerTQ(EADAgentLoopWorkerMixin, _AgentLoopWorkerTQ):
    """verl's TransferQueue agent-loop worker with EAD rollout requests."""

    # An __init__ of its own is what lets Ray (2.60) construct this actor. Ray copies every inherited
    # method onto its actor wrapper (ray/actor.py, _inject_tracing_into_class) and ships the wrapper
    # with cloudpickle. verl's AgentLoopWorkerTQ.__init__ cannot be pickled by reference (its module
    # name AgentLoopWorkerTQ is the @ray.remote wrapper, not the class), so it travels by value, and
    # its zero-argument super() cell with it: a copy of verl's class that the actor is no instance
    # of ("super(type, obj): obj must be an instance or subtype of type"; verl's default trainer died
    # at its first rollout). This __init__ is importable by name, so it is pickled by reference and
    # its super() is the real class. python_tests/test_verl_ray_actor.py starts both shapes under Ray.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)


class EADAgentLoopManagerTQ(AgentLoopManagerTQ):
    """verl's ``AgentLoopManagerTQ`` that checks the EAD config and runs EAD workers."""

    def __init__(self, *args, **kwargs):
        check_ead_config(_config_of(args, kwargs))
        super().__init__(*args, **kwargs)  # sets verl's worker class unconditionally: replace it after
        self.agent_loop_workers_class = ray.remote(EADAgentLoopWorkerTQ)
