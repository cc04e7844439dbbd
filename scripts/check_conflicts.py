"""`pip check` against the conflicts a set-up expects: prints one line when only those are found,
fails (exit 1) naming any other. Usage: python scripts/check_conflicts.py requirements/known-conflicts.txt"""
import subprocess
import sys


def main(known_file: str) -> int:
    known = {}
    for line in open(known_file):
        if line.strip() and not line.startswith("#"):
            text, _, why = line.partition("||")
            known[text.strip()] = why.strip()
    found = [ln.strip() for ln in subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                                                  text=True).stdout.splitlines() if ln.strip()]
    unexpected = [ln for ln in found if ln not in known]
    if unexpected:
        print("pip check: conflicts the set-up does not expect:\n  " + "\n  ".join(unexpected), file=sys.stderr)
        return 1
    print(f"pip check: {len(found)} known conflicts, all expected and harmless (why: {known_file})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
