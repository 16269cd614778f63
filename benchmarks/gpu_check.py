"""The Python half of benchmarks/gpu_check.sh: the report, the checks that need Python, and the figures.

gpu_check.sh runs each step as a plain command under its own timeout and calls this helper around it:

    init / meta / begin / record / finish   keep the run's state in WORK (steps.jsonl, run.json) and rewrite
                                            $OUT/gpu_check_report.md and $OUT/gpu_check_logs.tar.gz
    env                                     versions, the GPU through CuPy and torch, device_available("gpu")
    fake-mnist DIR                          a small, valid MNIST-format 10k-test-split file pair in DIR
    check-data DIR                          the 10k test split in DIR loads (gzipped files: MD5 checked)
    ckpt-info CKPT [--expect-epoch N]       a checkpoint's epoch and step (exit 1 when the epoch differs)
    compare-npy A B                         max |A - B| of two sample files (exit 1 above --tol)
    memloop                                 the MLP GAN trained with tinygan.app.gan.GAN for N steps, the
                                            CuPy pool's used/total bytes and the step time at chosen steps

Everything is standard library at import time (record/report must work even where numpy is broken); the
checks import numpy and tinygan when they run. Run gpu_check.sh, not this file, unless you want one check.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import socket
import subprocess
import sys
import time

REPORT_NAME = "gpu_check_report.md"
ARCHIVE_NAME = "gpu_check_logs.tar.gz"
LOG_APPENDIX_LINES = (60, 240)    # head and tail of each step's log copied into the report's appendix
STEPS_NAME = "steps.jsonl"
META_NAME = "run.json"
CURRENT_NAME = "current.json"
TAIL_LINES = 30          # log lines quoted in the report for a step that failed or timed out


# ==================================================================================================
# Run state, in WORK: run.json (meta), steps.jsonl (one line per finished step), current.json (the running step).
# What comes back, in OUT: the report and one archive of the logs (the device tool returns at most 8 files).
# ==================================================================================================
def _read_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def _write_text(path, text):
    """Write atomically, so a run killed mid-write never leaves half a report."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _steps(work):
    rows = []
    try:
        with open(work / STEPS_NAME) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return rows


def _git_commit(repo):
    try:
        res = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        commit = res.stdout.strip() if res.returncode == 0 else ""
        if commit:
            dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return commit + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown (no git here)"


def _out(work):
    return pathlib.Path(_read_json(work / META_NAME, {}).get("out", work))


def pack(work):
    """OUT/gpu_check_logs.tar.gz: every log, the run's state, the sample pictures, metrics and loss curves (no
    checkpoints, no data), rewritten after each step like the report."""
    import tarfile
    work = pathlib.Path(work)
    files = [work / n for n in (STEPS_NAME, META_NAME, "env.json") if (work / n).is_file()]
    files += sorted((work / "logs").glob("*.log"))
    files += sorted((work / "samples").glob("*.png"))
    for run in sorted((work / "runs").glob("*")):
        files += [run / n for n in ("metrics.csv", "modes.csv", "losses.png") if (run / n).is_file()]
        files += sorted((run / "samples").glob("*.png"))[-1:]          # the last epoch's picture
    target = _out(work) / ARCHIVE_NAME
    tmp = target.with_name(target.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for f in files:
            tar.add(f, arcname=str(pathlib.Path("gpu_check") / f.relative_to(work)))
    os.replace(tmp, target)


def _publish(work):
    write_report(work)
    try:
        pack(work)
    except Exception as exc:                    # the report matters more than the archive
        print(f"gpu_check.py: could not write {ARCHIVE_NAME}: {type(exc).__name__}: {exc}", file=sys.stderr)


def cmd_init(args):
    work, out = pathlib.Path(args.work), pathlib.Path(args.out)
    meta = {"mode": args.mode, "device": args.device, "budget_s": args.budget, "started": time.time(),
            "started_text": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "host": socket.gethostname(),
            "repo": str(pathlib.Path.cwd()), "commit": _git_commit(pathlib.Path.cwd()), "out": str(out),
            "work": str(work), "argv": args.argv, "data": "not chosen yet", "notes": []}
    _write_text(work / META_NAME, json.dumps(meta, indent=1))
    for name in (STEPS_NAME, CURRENT_NAME):
        try:
            (work / name).unlink()
        except FileNotFoundError:
            pass
    _publish(work)


def cmd_meta(args):
    work = pathlib.Path(args.work)
    meta = _read_json(work / META_NAME, {})
    for item in args.set or []:
        key, _, value = item.partition("=")
        meta[key] = value
    for note in args.note or []:
        meta.setdefault("notes", []).append(note)
    _write_text(work / META_NAME, json.dumps(meta, indent=1))
    write_report(work)


def cmd_begin(args):
    work = pathlib.Path(args.work)
    _write_text(work / CURRENT_NAME, json.dumps({"id": args.id, "title": args.title, "cmd": args.cmd,
                                                 "timeout": args.timeout, "since": time.time()}))
    write_report(work)


def cmd_record(args):
    work = pathlib.Path(args.work)
    log = pathlib.Path(args.log) if args.log else None
    text = ""
    if log is not None and log.is_file():
        text = log.read_text(errors="replace")
    row = {"id": args.id, "title": args.title, "cmd": args.cmd, "rc": args.rc, "wall": args.wall,
           "timeout": args.timeout, "kind": args.kind,
           "log": (str(log.relative_to(work)) if _under(log, work) else str(log)) if log else None,
           "reason": args.reason}
    if args.reason is not None:                 # skipped without running
        row["status"] = "skipped"
        row["summary"], row["details"] = f"skipped: {args.reason}", []
    else:
        row["status"] = _status(args.rc, args.kind)
        try:
            summary, details = PARSERS.get(args.kind, parse_generic)(text, args, work)
        except Exception as exc:                # a parser bug must never lose the step's row
            summary, details = f"(could not parse the log: {type(exc).__name__}: {exc})", []
        meta = _read_json(work / META_NAME, {})
        for path, name in ((meta.get("work"), "$WORK"), (meta.get("out"), "$OUT")):   # short paths
            if path:
                summary = summary.replace(path, name)
                details = [d.replace(path, name) for d in details]
        if row["status"] == "ok" and summary.startswith(NO_RESULT):
            row["status"] = "NO RESULT"         # exit 0, but it measured nothing (the bench without a GPU)
        row["summary"], row["details"] = summary, details
        if row["status"] != "ok":
            row["tail"] = text.rstrip("\n").splitlines()[-TAIL_LINES:]
    with open(work / STEPS_NAME, "a") as f:
        f.write(json.dumps(row) + "\n")
    try:
        (work / CURRENT_NAME).unlink()
    except FileNotFoundError:
        pass
    _publish(work)
    print(f"[{row['id']}] {row['status']}: {row['summary']}")


def cmd_finish(args):
    work = pathlib.Path(args.work)
    meta = _read_json(work / META_NAME, {})
    meta["finished"] = time.time()
    meta["total_s"] = args.total
    _write_text(work / META_NAME, json.dumps(meta, indent=1))
    _publish(work)
    rows = _steps(work)
    for r in rows:                               # the summary on stdout too: the device tool returns its tail
        print(f"  {r['id']:5s} {r['status']:16s} {'' if r.get('wall') is None else format(r['wall'], '7.1f') + ' s':>9s}"
              f"  {r['title']}: {r['summary'][:160]}")
    bad = [r for r in rows if r.get("status") not in ("ok", "skipped")]
    skipped = [r for r in rows if r.get("status") == "skipped"]
    print(f"gpu_check: {len(rows)} steps, {len(rows) - len(bad) - len(skipped)} ok, {len(bad)} not ok"
          f"{' (' + ', '.join(r['id'] for r in bad) + ')' if bad else ''}, {len(skipped)} skipped; "
          f"total {args.total:.1f} s; report: {_out(work) / REPORT_NAME}")


def _under(path, folder):
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _status(rc, kind):
    if rc in (124, 137):
        return "TIMEOUT"
    if rc == 130:
        return "INTERRUPTED"
    if rc == 0:
        return "ok"
    return f"FAIL (exit {rc})"


# ==================================================================================================
# Parsers: (log text, args, work) -> (one-line summary, [markdown lines of details])
# ==================================================================================================
def parse_generic(text, args, work):
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("$ ", "# timeout"))]
    return (lines[-1][:200] if lines else "(no output)"), []


NO_RESULT = "no result"
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|deselected|errors?|xfailed|xpassed|warnings?)")


def parse_pytest(text, args, work):
    counts, duration = {}, None
    for line in reversed(text.splitlines()):
        found = PYTEST_COUNT.findall(line)
        if found and re.search(r" in [\d.]+s", line) or "no tests ran" in line:
            counts = {name.rstrip("s") if name.startswith(("error", "warning")) else name: int(n)
                      for n, name in found}
            m = re.search(r" in ([\d.]+)s", line)
            duration = float(m.group(1)) if m else None
            break
    if not counts:                                # killed before its summary: count the progress characters
        progress = "".join(re.sub(r"\s*\[\s*\d+%\]\s*$", "", ln).strip() for ln in text.splitlines()
                           if re.fullmatch(r"[.sFExX]+\s*(\[\s*\d+%\])?\s*", ln))
        names = {".": "passed", "s": "skipped", "F": "failed", "E": "error", "x": "xfailed", "X": "xpassed"}
        for ch in progress:
            counts[names[ch]] = counts.get(names[ch], 0) + 1
        if counts:
            pct = re.findall(r"\[\s*(\d+)%\]", text)
            duration = None
            partial = f"PARTIAL (no summary line; killed near {pct[-1] if pct else '?'}%): "
        else:
            partial = ""
    else:
        partial = ""
    if args.rc in (124, 137):
        partial = "TIMED OUT, counts so far: " + partial
    order = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected", "warning")
    summary = partial + (", ".join(f"{counts[k]} {k}" for k in order if k in counts) or "no pytest output to count")
    if duration is not None:
        summary += f" in {duration:.1f} s"
    details = []
    problems = [ln for ln in text.splitlines() if ln.startswith(("FAILED ", "ERROR "))]
    if problems:
        details.append(f"Failures and errors ({len(problems)}):")
        details += ["```text"] + problems[:60] + (["..."] if len(problems) > 60 else []) + ["```"]
    skips = [ln for ln in text.splitlines() if ln.startswith("SKIPPED ")]
    if skips:
        details.append("Skip reasons (pytest -rs, grouped):")
        details += ["```text"] + skips[:40] + (["..."] if len(skips) > 40 else []) + ["```"]
    passed = [ln for ln in text.splitlines() if ln.startswith("PASSED ")]
    if passed:                                    # -rA: split the real GPU from the CPU stand-in
        standin = sum("gpu-standin" in ln for ln in passed)
        real = sum(re.search(r"\bgpu\b(?!-standin)", ln.split("::", 1)[-1]) is not None for ln in passed)
        other = len(passed) - standin - real
        line = f"passed on the real GPU (`[...gpu...]` ids): {real}; on the CPU stand-in for CuPy " \
               f"(`gpu-standin` ids): {standin}; other gpu-marked: {other}"
        details.append(line)
        summary += f" (real GPU {real}, stand-in {standin}, other {other})"
    return summary, details


EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+)\s+step (\d+)\s+(.*)$")


def parse_example(text, args, work):
    rows, details = [], []
    for line in text.splitlines():
        m = EPOCH_LINE.match(line.strip())
        if m:
            rate = re.search(r"([\d,]+) img/s", m.group(4))
            rows.append((int(m.group(1)), int(m.group(2)), int(m.group(3)),
                         int(rate.group(1).replace(",", "")) if rate else None, m.group(4)))
    if rows:
        details.append("| epoch | step | images/s | losses and more |")
        details.append("|---|---|---|---|")
        for epoch, total, step, rate, rest in rows:
            rest = re.sub(r"\s+[\d,]+ img/s", "", rest)
            details.append(f"| {epoch}/{total} | {step} | {rate if rate is not None else '-'} | {rest} |")
        details.append("(on the GPU the first epoch of a process includes CuPy's kernel compilation and the "
                       "first allocations: later epochs give the steady rate)")
        last = rows[-1]
        summary = (f"{len(rows)} epoch(s), last epoch {last[0]} at step {last[2]}: "
                   f"{last[3] if last[3] is not None else '?'} img/s")
        if len(rows) > 1 and rows[0][3]:
            summary += f" (epoch 1: {rows[0][3]} img/s)"
        modes = re.search(r"modes (\d+/\d+)", last[4])
        if modes:
            summary += f", modes {modes.group(1)}"
    else:
        summary = parse_generic(text, args, work)[0]
    wrote = [ln for ln in text.splitlines() if ln.startswith("wrote ")]
    details += [f"`{ln}`" for ln in wrote[-1:]]
    return summary, details


def parse_lastline(text, args, work):
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("$ ", "# timeout"))]
    return (lines[-1][:300] if lines else "(no output)"), []


def parse_keyvalue(text, args, work):
    """Lines 'key: value' printed by this helper; the summary is the line starting with 'result:'."""
    details, summary = [], None
    for line in text.splitlines():
        if line.startswith("result: "):
            summary = line[len("result: "):]
        elif re.match(r"^[A-Za-z][\w .()/-]*: ", line) and not line.startswith(("$ ", "# timeout")):
            details.append(f"- {line}")
    return summary or parse_generic(text, args, work)[0], details


def parse_nvidia_smi(text, args, work):
    m = re.search(r"Driver Version:\s*(\S+)\s+CUDA Version:\s*(\S+)", text)
    names = re.findall(r"^\|\s+\d+\s+(NVIDIA[^|]*?)\s{2,}", text, re.M)
    summary = ", ".join(n.strip() for n in names) or "no GPU line found"
    if m:
        summary += f"; driver {m.group(1)}, CUDA {m.group(2)}"
    body = [ln for ln in text.splitlines() if not ln.startswith(("$ ", "# timeout"))]
    return summary, ["```text"] + body[:40] + ["```"]


def parse_env(text, args, work):
    info = _read_json(work / "env.json", None)
    if not info:
        return parse_generic(text, args, work)
    details = [f"- {k}: {v}" for k, v in info.items()]
    gpu = info.get("tinygan.device_available('gpu')")
    summary = (f"device_available('gpu') = {gpu}; {info.get('gpu (CuPy)', 'no CuPy device')}; "
               f"Python {info.get('python', '?').split()[0]}, NumPy {info.get('numpy')}, CuPy {info.get('cupy')}, "
               f"torch {info.get('torch')}")
    return summary, details


def parse_bench(text, args, work):
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("## GAN training step")), None)
    details, rows = [], []
    if start is not None:
        block = [ln for ln in lines[start:] if not ln.startswith("written to")]
        details = ["####" + block[0][2:]] + block[1:]
        for ln in block:
            if ln.startswith("| ") and not ln.startswith("| config"):
                cells = [c.strip() for c in ln.strip().strip("|").split("|")]
                tg = cells[1].split()[0] if len(cells) > 1 else "?"
                if len(cells) >= 12:
                    ratio = cells[11].split()[0].strip("*")
                    rows.append(f"{cells[0]} {tg} ms vs torch {cells[6].split()[0]} ms (ratio {ratio})")
                else:
                    rows.append(f"{cells[0]} {tg} ms")
    skipped = [ln for ln in lines if "skipped: no usable" in ln]
    if rows:
        summary = "; ".join(rows)
    elif skipped:
        summary = f"{NO_RESULT}: {skipped[0].strip()}"
    else:
        summary = f"{NO_RESULT}: no results table (see the log)"
    return summary, details


def parse_memloop(text, args, work):
    details = [ln for ln in text.splitlines() if ln.startswith("|")]
    verdict = next((ln[len("verdict: "):] for ln in text.splitlines() if ln.startswith("verdict: ")), None)
    notes = [f"- {ln}" for ln in text.splitlines() if ln.startswith(("losses at the end:", "memory measured:",
                                                                       "data:"))]
    return (verdict or parse_generic(text, args, work)[0]), details + ([""] + notes if notes else [])


PARSERS = {"generic": parse_generic, "pytest": parse_pytest, "example": parse_example, "last": parse_lastline,
           "kv": parse_keyvalue, "nvidia-smi": parse_nvidia_smi, "env": parse_env, "bench": parse_bench,
           "memloop": parse_memloop}


# ==================================================================================================
# The report
# ==================================================================================================
def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _log_lines(work, row):
    """A step's whole log, or its head and tail when it is long."""
    path = pathlib.Path(row["log"]) if row.get("log") else None
    if path is None:
        return None
    path = path if path.is_absolute() else work / path
    try:
        lines = path.read_text(errors="replace").rstrip("\n").splitlines()
    except OSError:
        return None
    head, tail = LOG_APPENDIX_LINES
    if len(lines) > head + tail:
        lines = lines[:head] + [f"[... {len(lines) - head - tail} lines left out: see {row['log']} in "
                                f"{ARCHIVE_NAME} ...]"] + lines[-tail:]
    return lines


def write_report(work):
    work = pathlib.Path(work)
    meta = _read_json(work / META_NAME, {})
    out = pathlib.Path(meta.get("out", work))
    rows = _steps(work)
    current = _read_json(work / CURRENT_NAME, None)
    now = time.time()
    elapsed = (meta.get("finished") or now) - meta.get("started", now)
    dry = meta.get("mode") == "dry-run"
    lines = ["# tinygan GPU check report", ""]
    if dry:
        lines += ["**DRY RUN on the CPU** (`--device cpu`, tiny sizes): it proves the script's plumbing, the data "
                  "preparation, the parsing and this report, not the GPU. Figures below are CPU figures.", ""]
    if "finished" in meta:
        state = f"finished, total {meta.get('total_s', elapsed):.1f} s"
    elif current:
        state = (f"RUNNING step {current['id']} ({current['title']}) for {now - current['since']:.0f} s "
                 f"(timeout {current['timeout']} s) when this was written; if this is the last version, the run "
                 f"was killed there")
    else:
        state = f"running, {elapsed:.0f} s so far"
    lines += [f"- status: {state}",
              f"- mode: {meta.get('mode', '?')} (device `{meta.get('device', '?')}`), time budget "
              f"{meta.get('budget_s', '?')} s (each step's timeout is cut to what is left)",
              f"- started {meta.get('started_text', '?')} on {meta.get('host', '?')}; repo {meta.get('repo', '?')} "
              f"at commit {meta.get('commit', '?')}",
              f"- command: `{meta.get('argv', '?')}`",
              f"- OUT = {meta.get('out', '?')}: this report and {ARCHIVE_NAME} (every log, the run's state, "
              f"the sample pictures, metrics and loss curves); working folder (runs, checkpoints, logs, data): "
              f"{meta.get('work', '?')}",
              f"- data: {meta.get('data', '?')}"]
    lines += [f"- note: {n}" for n in meta.get("notes", [])]
    ok = sum(r.get("status") == "ok" for r in rows)
    skipped = sum(r.get("status") == "skipped" for r in rows)
    lines += [f"- steps so far: {len(rows)}: {ok} ok, {len(rows) - ok - skipped} not ok, {skipped} skipped", ""]
    lines += ["## Summary", "", "| step | what | exit | wall s | status | key figures |", "|---|---|---|---|---|---|"]
    for r in rows:
        rc = "-" if r.get("rc") is None else r["rc"]
        wall = "-" if r.get("wall") is None else f"{r['wall']:.1f}"
        lines.append(f"| {r['id']} | {_cell(r['title'])} | {rc} | {wall} | {r['status']} | {_cell(r['summary'])} |")
    if current:
        lines.append(f"| {current['id']} | {_cell(current['title'])} | - | - | RUNNING | - |")
    lines += ["", "## Steps", ""]
    for r in rows:
        lines.append(f"### {r['id']} {r['title']}")
        lines.append("")
        lines.append(f"- command: `{r.get('cmd') or '-'}`")
        if r.get("status") == "skipped":
            lines.append(f"- skipped: {r.get('reason')}")
        else:
            lines.append(f"- exit code {r['rc']}, wall {r['wall']:.1f} s (timeout {r['timeout']} s), "
                         f"status {r['status']}; full log: `{r.get('log')}`")
            lines.append(f"- {r['summary']}")
        if r.get("details"):
            lines += [""] + r["details"]
        if r.get("tail"):
            lines += ["", f"Last {len(r['tail'])} log lines:", "", "```text"] + r["tail"] + ["```"]
        lines.append("")
    lines += ["## Appendix: the logs", "", f"Each step's log as written (long ones cut to their first "
              f"{LOG_APPENDIX_LINES[0]} and last {LOG_APPENDIX_LINES[1]} lines; whole in {ARCHIVE_NAME}).", ""]
    for r in rows:
        body = _log_lines(work, r)
        if body is None:
            continue
        fence = "~~~~"                            # logs may hold ``` themselves
        lines += [f"### log of {r['id']} ({r['log']})", "", fence + "text"] + body + [fence, ""]
    _write_text(out / REPORT_NAME, "\n".join(lines) + "\n")


# ==================================================================================================
# Checks
# ==================================================================================================
def cmd_env(args):
    info = {"python": sys.version.replace("\n", " "), "platform": platform.platform(),
            "cpu cores usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}

    def version(name):
        try:
            module = __import__(name)
            return getattr(module, "__version__", "present")
        except Exception as exc:
            return f"not importable ({type(exc).__name__}: {exc})"

    for name in ("numpy", "cupy", "torch", "matplotlib", "pytest", "hypothesis", "tqdm"):
        info[name] = version(name)
    try:
        import cupy
        rt = cupy.cuda.runtime
        info["CUDA devices (CuPy)"] = rt.getDeviceCount()
        props = rt.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["gpu (CuPy)"] = (f"{name}, compute capability {props['major']}.{props['minor']} "
                              f"(sm_{props['major']}{props['minor']}), "
                              f"{props['totalGlobalMem'] / 2**30:.1f} GiB, {props['multiProcessorCount']} SMs")
        info["CUDA runtime / driver (CuPy)"] = f"{rt.runtimeGetVersion()} / {rt.driverGetVersion()}"
        try:
            info["NVRTC (CuPy)"] = ".".join(map(str, cupy.cuda.nvrtc.getVersion()))
        except Exception as exc:
            info["NVRTC (CuPy)"] = f"unknown ({type(exc).__name__})"
        info["CUPY_TF32 / CUPY_CACHE_DIR"] = f"{os.environ.get('CUPY_TF32')} / {os.environ.get('CUPY_CACHE_DIR')}"
    except Exception as exc:
        info["gpu (CuPy)"] = f"none ({type(exc).__name__}: {exc})"
    try:
        import torch
        info["torch.cuda.is_available()"] = torch.cuda.is_available()
        info["torch CUDA"] = torch.version.cuda
        if torch.cuda.is_available():
            info["gpu (torch)"] = torch.cuda.get_device_name(0)
    except Exception as exc:
        info["torch.cuda"] = f"unavailable ({type(exc).__name__}: {exc})"
    try:
        import tinygan
        from tinygan import backend
        available = tinygan.device_available("gpu")
        info["tinygan"] = f"{tinygan.__version__} from {os.path.dirname(tinygan.__file__)}"
        info["tinygan.device_available('gpu')"] = available
        if not available:
            info["why not"] = getattr(backend, "_cupy_problem", None)
    except Exception as exc:
        info["tinygan"] = f"import failed ({type(exc).__name__}: {exc})"
    for k, v in info.items():
        print(f"{k}: {v}")
    if args.json:
        _write_text(args.json, json.dumps({k: str(v) if not isinstance(v, (bool, int)) else v
                                           for k, v in info.items()}, indent=1))
    if args.require_gpu and info.get("tinygan.device_available('gpu')") is not True:
        print("result: tinygan sees NO usable GPU")
        return 1
    return 0


# seven-segment digits drawn as thick strokes: segments a (top), b (top right), c (bottom right), d (bottom),
# e (bottom left), f (top left), g (middle)
_SEGMENTS = {0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc", 5: "afgcd", 6: "afgedc", 7: "abc",
             8: "abcdefg", 9: "abcdfg"}


def _digit_template(digit, thickness):
    import numpy as np
    img = np.zeros((28, 28), np.float32)
    left, right, top, mid, bottom = 8, 19, 5, 13, 22
    t = thickness
    boxes = {"a": (top, top + t, left, right + 1), "g": (mid, mid + t, left, right + 1),
             "d": (bottom - t + 1, bottom + 1, left, right + 1), "f": (top, mid + t, left, left + t),
             "b": (top, mid + t, right - t + 1, right + 1), "e": (mid, bottom + 1, left, left + t),
             "c": (mid, bottom + 1, right - t + 1, right + 1)}
    for seg in _SEGMENTS[digit]:
        r0, r1, c0, c1 = boxes[seg]
        img[r0:r1, c0:c1] = 1.0
    return img


def cmd_fake_mnist(args):
    """n digit-like images with their labels as UNCOMPRESSED IDX files named like the 10k test split.

    Uncompressed on purpose: tinygan.app.data checks a gzipped file's MD5 against the published MNIST one (a
    fake .gz can never pass), and checks an uncompressed file by its IDX header and size instead."""
    import numpy as np
    folder = pathlib.Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    n = args.n
    labels = rng.integers(0, 10, n).astype(np.uint8)
    templates = np.stack([np.stack([_digit_template(d, t) for t in (2, 3)]) for d in range(10)])   # (10, 2, 28, 28)
    images = templates[labels, rng.integers(0, 2, n)]                                              # (n, 28, 28)
    shifts = rng.integers(-3, 4, (n, 2))
    for i in range(n):
        images[i] = np.roll(images[i], tuple(shifts[i]), axis=(0, 1))
    images = images * rng.uniform(0.7, 1.0, (n, 1, 1)).astype(np.float32)
    images += rng.normal(0.0, 0.05, images.shape).astype(np.float32)
    images = (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        stale = folder / (name + ".gz")       # load_mnist prefers .gz: a leftover one would fail its MD5 check
        if stale.exists():
            stale.unlink()
    with open(folder / "t10k-images-idx3-ubyte", "wb") as f:
        f.write((2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big")
                + (28).to_bytes(4, "big"))
        f.write(images.tobytes())
    with open(folder / "t10k-labels-idx1-ubyte", "wb") as f:
        f.write((2049).to_bytes(4, "big") + n.to_bytes(4, "big"))
        f.write(labels.tobytes())
    from tinygan.app import data
    x, y = data.load_mnist(folder, split="test", download=False)
    print(f"wrote {folder}: {x.shape[0]} images {tuple(x.shape[1:])} uint8 (mean {x.mean():.1f}), labels 0-9 "
          f"(counts {np.bincount(y, minlength=10).tolist()}), uncompressed IDX, read back by load_mnist")
    print(f"result: fake MNIST, {n} seven-segment digit images in {folder}")
    return 0


def cmd_check_data(args):
    """The folder's 10k test split loads through tinygan.app.data.load_mnist (gzipped files: MD5 checked)."""
    import numpy as np
    from tinygan.app import data
    folder = pathlib.Path(args.folder)
    x, y = data.load_mnist(folder, split="test", download=False)
    files = sorted(p.name for p in folder.iterdir() if p.name.startswith("t10k-"))
    print(f"files: {', '.join(files)}")
    print(f"images: {x.shape} {x.dtype}, mean {x.mean():.1f}; label counts {np.bincount(y, minlength=10).tolist()}")
    print(f"result: real MNIST test split, {len(x)} images, loaded by load_mnist from {folder}")
    return 0


def cmd_ckpt_info(args):
    import tinygan
    ckpt = tinygan.load(args.checkpoint)
    config = ckpt.get("config", {})
    epoch, step = int(ckpt["epoch"]), int(ckpt["step"])
    print(f"epoch: {epoch}")
    print(f"step: {step}")
    print(f"arch: {config.get('arch')}, loss {config.get('loss')}, data_dir {config.get('data_dir')}")
    if args.expect_epoch is not None and epoch != args.expect_epoch:
        print(f"result: checkpoint epoch {epoch} step {step}, EXPECTED epoch {args.expect_epoch}")
        return 1
    print(f"result: checkpoint epoch {epoch}, step {step}"
          + (" (as expected)" if args.expect_epoch is not None else ""))
    return 0


def cmd_compare_npy(args):
    import numpy as np
    a, b = np.load(args.a), np.load(args.b)
    print(f"shapes: {a.shape} {a.dtype} / {b.shape} {b.dtype}")
    if a.shape != b.shape:
        print("result: SHAPES DIFFER")
        return 1
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    worst = float(diff.max()) if diff.size else 0.0
    print(f"max abs diff: {worst:.3g}")
    print(f"mean abs diff: {float(diff.mean()) if diff.size else 0.0:.3g}")
    print(f"value range: [{float(a.min()):.3f}, {float(a.max()):.3f}]")
    ok = np.isfinite(a).all() and np.isfinite(b).all() and worst <= args.tol
    print(f"result: max abs diff {worst:.3g} ({'within' if ok else 'ABOVE'} the tolerance {args.tol:g})")
    return 0 if ok else 1


def _rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cmd_memloop(args):
    """Train the MLP GAN for --steps steps with tinygan.app.gan.GAN; memory and step time at --at steps."""
    import numpy as np
    import tinygan
    from tinygan import backend, optim
    from tinygan.app import data, models
    from tinygan.app.gan import GAN, MetricsLog

    device = backend.check_device(args.device)
    at = sorted({int(s) for s in args.at.split(",") if s} | {args.steps})
    backend.keep_freed_memory()                      # as the examples' CLI does
    tinygan.manual_seed(0)
    config = models.make_config("mlp", 100)
    G, D = models.build(config)
    G.to(device)
    D.to(device)
    gan = GAN(G, D, optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999)),
              optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999)), 100, device=device)
    if args.data_dir:
        images, labels = data.load_mnist(args.data_dir, split=args.split, download=False)
        print(f"data: {len(images)} images from {args.data_dir} ({args.split} split)")
    else:
        rng = np.random.default_rng(0)
        images, labels = rng.integers(0, 256, (2048, 1, 28, 28), dtype=np.uint8), None
        print("data: 2048 random uint8 images (no --data-dir)")
    batches = data.MNISTBatches(images, labels, batch_size=args.batch_size, device=device)
    pool = backend.require_gpu().get_default_memory_pool() if device == "gpu" else None
    log = MetricsLog(args.log_every)

    def next_batch(state={"it": None}):
        while True:
            if state["it"] is None:
                state["it"] = iter(batches)
            try:
                item = next(state["it"])
            except StopIteration:
                state["it"] = None
                continue
            return item if isinstance(item, tuple) else (item, None)

    rows = []
    backend.synchronize(device)
    t_prev, s_prev = time.perf_counter(), 0
    for step in range(1, args.steps + 1):
        metrics = gan.train_step([next_batch()])
        log.add(step, 1, metrics)
        if step in at:
            log.flush()                              # nothing pending: the pool holds only what training keeps
            backend.synchronize(device)
            now = time.perf_counter()
            row = {"step": step, "ms_per_step": (now - t_prev) / (step - s_prev) * 1e3, "rss_mib": _rss_mib()}
            if pool is not None:
                row["used_mib"] = pool.used_bytes() / 2**20
                row["total_mib"] = pool.total_bytes() / 2**20
            rows.append(row)
            print(f"step {step}: {json.dumps(row)}", flush=True)
            t_prev, s_prev = time.perf_counter(), step
    log.flush()

    lines, flat = memory_report(rows, pool is not None, args.tol_mib, log.latest())
    print("\n".join(lines))
    return 0 if flat else 1


def memory_report(rows, gpu, tol, latest=None):
    """The table and verdict of memloop: (lines, flat). Compares the second mark (after warm-up) with the last."""
    head = "| step | ms/step since previous | " + ("pool used MiB | pool total MiB | " if gpu else "") + "host RSS MiB |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['step']} | {r['ms_per_step']:.2f} | "
                     + (f"{r['used_mib']:.2f} | {r['total_mib']:.2f} | " if gpu else "") + f"{r['rss_mib']:.1f} |")
    if latest:
        lines.append(f"losses at the end: d_loss {latest['d_loss']:.3f}, g_loss {latest['g_loss']:.3f}, "
                     f"D(x) {latest['d_real']:.3f}, D(G(z)) {latest['d_fake']:.3f} (all finite)")
    lines.append("memory measured: " + ("CuPy default memory pool used_bytes()/total_bytes() after a flush of the "
                                        "metrics and a synchronize; host RSS beside it" if gpu else
                                        "host RSS only (CPU run: no CuPy pool)"))
    base = rows[1] if len(rows) > 2 else rows[0]
    last = rows[-1]
    rss = f"host RSS {base['rss_mib']:.1f} -> {last['rss_mib']:.1f} MiB"
    if gpu:
        grow_used = last["used_mib"] - base["used_mib"]
        grow_total = last["total_mib"] - base["total_mib"]
        flat = abs(grow_used) <= tol and grow_total <= tol
        lines.append(f"verdict: GPU memory {'FLAT' if flat else 'GROWS'}: pool used {base['used_mib']:.2f} -> "
                     f"{last['used_mib']:.2f} MiB, total {base['total_mib']:.2f} -> {last['total_mib']:.2f} MiB "
                     f"from step {base['step']} to {last['step']} (tolerance {tol:g} MiB); {rss}; "
                     f"{last['ms_per_step']:.2f} ms/step at the end")
    else:
        flat = last["rss_mib"] - base["rss_mib"] <= max(tol, 0.02 * base["rss_mib"])
        lines.append(f"verdict: host RSS {'FLAT' if flat else 'GROWS'} (CPU run, no CuPy pool): {rss} from step "
                     f"{base['step']} to {last['step']}; {last['ms_per_step']:.2f} ms/step at the end")
    return lines, flat


# ==================================================================================================
def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("init")
    s.add_argument("--work", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--mode", required=True)
    s.add_argument("--device", required=True)
    s.add_argument("--budget", type=int, required=True)
    s.add_argument("--argv", default="")
    s = sub.add_parser("meta")
    s.add_argument("--work", required=True)
    s.add_argument("--set", action="append", metavar="KEY=VALUE")
    s.add_argument("--note", action="append")
    s = sub.add_parser("begin")
    for name in ("--work", "--id", "--title", "--cmd"):
        s.add_argument(name, required=True)
    s.add_argument("--timeout", type=int, required=True)
    s = sub.add_parser("record")
    for name in ("--work", "--id", "--title"):
        s.add_argument(name, required=True)
    s.add_argument("--cmd", default="")
    s.add_argument("--rc", type=int, default=None)
    s.add_argument("--wall", type=float, default=None)
    s.add_argument("--timeout", type=int, default=None)
    s.add_argument("--kind", default="generic", choices=sorted(PARSERS))
    s.add_argument("--log", default=None)
    s.add_argument("--reason", default=None, help="the step was skipped, and why")
    s = sub.add_parser("finish")
    s.add_argument("--work", required=True)
    s.add_argument("--total", type=float, required=True)
    s = sub.add_parser("report")
    s.add_argument("--work", required=True)
    s = sub.add_parser("env")
    s.add_argument("--json", default=None)
    s.add_argument("--require-gpu", action="store_true", help="exit 1 when tinygan sees no GPU")
    s = sub.add_parser("fake-mnist")
    s.add_argument("folder")
    s.add_argument("--n", type=int, default=2000)
    s.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("check-data")
    s.add_argument("folder")
    s = sub.add_parser("ckpt-info")
    s.add_argument("checkpoint")
    s.add_argument("--expect-epoch", type=int, default=None)
    s = sub.add_parser("compare-npy")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--tol", type=float, default=1e-4)
    s = sub.add_parser("memloop")
    s.add_argument("--device", default="gpu")
    s.add_argument("--steps", type=int, default=3000)
    s.add_argument("--at", default="100,1000,2000,3000")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--log-every", type=int, default=50)
    s.add_argument("--data-dir", default=None)
    s.add_argument("--split", default="test")
    s.add_argument("--tol-mib", type=float, default=1.0)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    handlers = {"init": cmd_init, "meta": cmd_meta, "begin": cmd_begin, "record": cmd_record,
                "finish": cmd_finish, "report": lambda a: _publish(a.work), "env": cmd_env,
                "fake-mnist": cmd_fake_mnist, "check-data": cmd_check_data, "ckpt-info": cmd_ckpt_info, "compare-npy": cmd_compare_npy,
                "memloop": cmd_memloop}
    return handlers[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
