"""Scripted check: SIGKILL a `garmentparse tag --engine ray` driver mid-run, resume it, and check
that nothing is lost and nothing is duplicated (against a local-engine run of the same photos).

    python benchmarks/check_ray_kill_resume.py --detector det.pt --classifier cls.pt [--n 60]

1. builds a folder of ``--n`` real photos (examples/ccp replicated under new names) and one
   broken file;
2. tags it with the local engine (the reference; one torch thread, like each 1-CPU actor);
3. starts `garmentparse tag --engine ray` in a subprocess, waits until a third of the lines are
   in the output, and kills the driver with SIGKILL (no clean-up of any kind);
4. runs the same command with `--resume` and compares: every photo once, the lines identical to
   the reference byte for byte (sorted), the run record showing the killed run unfinished.

Prints what it saw at each step and exits 1 if a check fails. The Ray processes of the killed
run are Ray's to clean up: the script reports whether any of them outlived the driver.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_photos(root: Path, n: int) -> None:
    sources = sorted((REPO / "examples" / "ccp" / "images").glob("*.jpg"))
    root.mkdir(parents=True)
    for i in range(n):
        shutil.copy(sources[i % len(sources)], root / f"p{i:04d}.jpg")
    (root / "broken.jpg").write_text("not a photo")


def descendants(pid: int) -> set[int]:
    """Process ids below ``pid`` (from /proc), to see what a killed driver leaves behind."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if os.path.exists(f"/proc/{p}")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", required=True)
    ap.add_argument("--classifier", default=None)
    ap.add_argument("--n", type=int, default=60, help="photos (plus one broken file)")
    ap.add_argument("--batch-size", type=int, default=1,
                    help="1 (default) makes the resumed lines comparable byte for byte: the batch an image "
                         "is in moves float rounding, and a resumed run batches what is left")
    ap.add_argument("--score-threshold", default="0.01")
    ap.add_argument("--kill-at", type=float, default=1 / 3, help="share of the lines written before the kill")
    args = ap.parse_args()
    models = ["--detector", args.detector] + (["--classifier", args.classifier] if args.classifier else [])
    common = [*models, "--score-threshold", args.score_threshold, "--device", "cpu", "--batch-size",
              str(args.batch_size)]
    cli = [sys.executable, "-m", "garmentparse", "tag"]
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ray-kill-") as tmp:
        photos, local, out = Path(tmp) / "photos", Path(tmp) / "local.jsonl", Path(tmp) / "ray.jsonl"
        build_photos(photos, args.n)
        total = args.n + 1
        t = time.perf_counter()
        # one torch thread, as each 1-CPU actor has: the thread count moves float rounding too
        subprocess.run([*cli, str(photos), *common, "--out", str(local), "--workers", "0"], check=True,
                       capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        print(f"local reference: {total} lines in {time.perf_counter() - t:.1f}s")

        t = time.perf_counter()
        driver = subprocess.Popen([*cli, str(photos), *common, "--out", str(out), "--engine", "ray",
                                   "--actors", "2", "--cpus-per-actor", "1"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        want = max(1, int(total * args.kill_at))
        while driver.poll() is None and (not out.exists() or out.read_bytes().count(b"\n") < want):
            time.sleep(0.05)
        below = descendants(driver.pid)
        if driver.poll() is not None:
            print(f"the run ended (exit {driver.returncode}) before {want} lines: nothing to kill; use a larger --n")
            return 1
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        written = out.read_bytes()
        complete, torn = written.count(b"\n"), bool(written) and not written.endswith(b"\n")
        print(f"SIGKILL after {time.perf_counter() - t:.1f}s: {complete} complete lines of {total}"
              f"{', plus a torn line' if torn else ''}")
        record = json.loads(Path(str(out) + ".run.json").read_text(encoding="utf-8"))
        print(f"run record: finished = {record['runs'][-1]['finished']}")
        for _ in range(100):  # Ray's processes notice their driver is gone
            if not alive(below):
                break
            time.sleep(0.1)
        left = alive(below)
        print(f"processes under the killed driver: {len(below)}, still alive 10 s later: {len(left)}", flush=True)

        t = time.perf_counter()
        resumed = subprocess.run([*cli, str(photos), *common, "--out", str(out), "--engine", "ray", "--actors", "2",
                                  "--cpus-per-actor", "1", "--resume", "--json"], capture_output=True, text=True)
        summary = json.loads(resumed.stdout.strip().splitlines()[-1]) if resumed.returncode == 0 else {}
        print(f"resume: exit {resumed.returncode} in {time.perf_counter() - t:.1f}s, {summary}")
        lines = out.read_text(encoding="utf-8").splitlines()
        paths = [json.loads(line)["path"] for line in lines]
        reference = sorted(local.read_text(encoding="utf-8").splitlines())
        checks = {
            "every photo once (no duplicates)": len(paths) == len(set(paths)) == total,
            "nothing lost": set(paths) == {json.loads(line)["path"] for line in reference},
            "lines identical to the local engine's (sorted, byte for byte)": sorted(lines) == reference,
            "the killed run is unfinished in the record, the resumed one finished": [
                r["finished"] is not None for r in json.loads(Path(str(out) + ".run.json").read_text())["runs"]
            ] == [False, True],
        }
        for name, ok in checks.items():
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
            if not ok:
                failures.append(name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
