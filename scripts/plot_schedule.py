"""Regenerates docs/schedule.png, the schedule plot shown in the README.

    python scripts/plot_schedule.py [--out docs/schedule.png]
"""
import argparse

from ead_ext.apps.plots import plot_schedule

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/schedule.png")
    print(plot_schedule(ap.parse_args().out))
