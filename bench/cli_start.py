"""How long the `backoffice` command takes to start: `--help` and a job that does not solve.

Times this checkout against a baseline revision checked out beside it (a git worktree), each
command run alternately several times in fresh processes, and prints medians and the ratio.

    python bench/cli_start.py [--baseline REV] [--runs N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"--help": ["--help"], "vetting check-documents": ["vetting", "check-documents"],
            "billing dunning-run": ["billing", "dunning-run"]}


def run_once(tree: Path, args: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from backoffice.cli import main; main()", *args],
                   cwd=tree, env={**env, "PYTHONPATH": str(tree)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="4d91d6e",
                        help="revision to compare with (default: before the lazy CLI)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), args.baseline],
                       cwd=ROOT, check=True)
        try:
            env = dict(os.environ, BACKOFFICE_INSTANCE=str(Path(tmp) / "instance"))
            run_once(ROOT, ["db", "upgrade"], env)  # one SQLite database for both trees
            print(f"{'command':28} {'this checkout':>14} {'baseline':>10} {'ratio':>7}")
            for name, cmd in COMMANDS.items():
                ours, theirs = [], []
                for _ in range(args.runs):
                    ours.append(run_once(ROOT, cmd, env))
                    theirs.append(run_once(base, cmd, env))
                a, b = statistics.median(ours), statistics.median(theirs)
                print(f"{name:28} {a:13.2f}s {b:9.2f}s {a / b:7.2f}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                           check=False)


if __name__ == "__main__":
    main()
