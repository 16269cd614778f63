"""Cost of ``import tinygan``: import time and resident memory right after it, each in fresh processes.

    python benchmarks/bench_import.py            # 15 rounds; medians
    python benchmarks/bench_import.py --rounds 31

Per round, in alternating order, three fresh interpreters: ``pass`` (the interpreter's own start-up),
``import numpy`` and ``import tinygan``. Reported: the median wall time of each, tinygan's own share
(tinygan minus bare start-up: what a user waits for on top of Python), the cumulative ``import tinygan``
time that ``python -X importtime`` reports (numpy included), the resident memory (VmRSS) of a process that
has just imported tinygan, and whether heavy optional modules (matplotlib, scipy, cupy, torch) got
imported along. Targets (the issue): <= 0.3 s and <= 80 MB.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = ("import sys, tinygan\n"
         "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')]\n"
         "heavy = [m for m in ('matplotlib', 'scipy', 'cupy', 'torch', 'PIL') if m in sys.modules]\n"
         "print(int(rss[0].split()[1]) if rss else -1, ','.join(heavy) or '-')\n")


def timed(code, env):
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def importtime_cumulative(env):
    """Cumulative microseconds of the top-level ``import tinygan`` in ``python -X importtime``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import tinygan"], env=env,
                          capture_output=True, text=True, check=True)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s*\d+ \|\s*(\d+) \| tinygan$", line)
        if m:
            return int(m.group(1)) / 1e6
    return float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    codes = {"python": "pass", "numpy": "import numpy", "tinygan": "import tinygan"}
    times = {k: [] for k in codes}
    cumulative = []
    for r in range(args.rounds):
        for name in (list(codes) if r % 2 == 0 else list(codes)[::-1]):
            times[name].append(timed(codes[name], env))
        cumulative.append(importtime_cumulative(env))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    rss_kib, heavy = out.stdout.split()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"rounds: {args.rounds}; median wall time of a fresh process:")
    for k in codes:
        print(f"    {codes[k]:16s} {med[k] * 1e3:7.1f} ms  (IQR {statistics.quantiles(times[k], n=4)[0] * 1e3:.1f}-"
              f"{statistics.quantiles(times[k], n=4)[2] * 1e3:.1f})")
    print(f"import tinygan on top of bare Python: {(med['tinygan'] - med['python']) * 1e3:.1f} ms "
          f"(of which numpy {(med['numpy'] - med['python']) * 1e3:.1f} ms)")
    print(f"python -X importtime, cumulative 'tinygan': median {statistics.median(cumulative) * 1e3:.1f} ms")
    print(f"VmRSS after import tinygan: {int(rss_kib) / 1024:.1f} MiB; heavy modules imported: {heavy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
