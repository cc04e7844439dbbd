"""The `ead-ext` command: `eval` (measure EAD vs fixed temperatures through vLLM), `generate` (inspect EAD
samples through vLLM, per position), `train` (RLVR with EAD through verl), `serve` (vLLM's OpenAI server with the EAD sampler), `demo` (the fused op on a
synthetic LM), `schedule`, `info`; :data:`ROLES` says what each is for (``ead-ext --help``)."""
from __future__ import annotations

import argparse
import json
import sys


def _info(argv) -> int:
    import ead_ext

    print(json.dumps(ead_ext.backend_info(), indent=2))
    return 0


def _schedule(argv) -> int:
    from .plots import plot_schedule
    from ead_ext.schedule import PRESETS

    ap = argparse.ArgumentParser(prog="ead-ext schedule", description="print and plot the EAD schedule")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="small")
    ap.add_argument("--step", type=int, default=0)
    ap.add_argument("--positions", type=int, nargs="*", default=[0, 9, 10, 50, 91, 200, 371, 500, 1000])
    ap.add_argument("--plot", default="", help="write the schedule plot to this PNG")
    args = ap.parse_args(argv)
    sched = PRESETS[args.preset]
    taus = sched.temperature(args.positions, step=args.step)
    print(f"{sched} at step {args.step}: decay {sched.at_step(args.step):g}")
    for t, tau in zip(args.positions, taus.tolist()):
        print(f"  t = {t:6d}  tau = {tau:.6f}")
    if args.plot:
        print(f"wrote {plot_schedule(args.plot, sched)}")
    return 0


def _demo(argv) -> int:
    from .demo import main

    return main(argv)


def _eval(argv) -> int:
    from .evaluate import main

    return main(argv)


def _generate(argv) -> int:
    from .generate import main

    return main(argv)


def _serve(argv) -> int:
    from .serve import main

    return main(argv)


def _train(argv) -> int:
    from .training.cli import main

    return main(argv)


COMMANDS = {"info": _info, "demo": _demo, "schedule": _schedule, "eval": _eval, "generate": _generate,
            "train": _train, "serve": _serve}

#: what each command is for: one line each in ``ead-ext --help``
ROLES = {
    "eval": "measure: EAD vs fixed temperatures on held-out problems, Pass@k etc. (vLLM)",
    "generate": "inspect: EAD vs one fixed temperature on a few prompts, per position, unscored (vLLM)",
    "train": "RL with verifiable rewards and EAD rollouts through verl (--compare: vs fixed tau)",
    "serve": "vLLM's OpenAI-compatible server with the EAD sampler (requests opt in: vllm_xargs ead)",
    "demo": "the fused op alone on a synthetic LM (no model, no vLLM): speed, per-position stats",
    "schedule": "print (and plot) the EAD temperature schedule at a training step",
    "info": "which backend (compiled op or reference) serves, for which devices",
}


def usage() -> str:
    lines = ["usage: ead-ext COMMAND [options]   (ead-ext COMMAND --help for each)", "", "commands:"]
    lines += [f"  {name:9s} {ROLES[name]}" for name in ROLES]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"ead-ext: unknown command {argv[0]!r} (commands: {', '.join(ROLES)})\n\n{usage()}", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
