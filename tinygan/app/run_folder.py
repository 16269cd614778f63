"""The output folder (--out) of a run: what a run writes there, and never destroying an earlier run.

An --out that cannot be written is refused before any training (``check_writable``), and one that holds an
earlier run is refused unless the run continues it (--resume) or replaces it (--overwrite) (``check_out``).
--overwrite replaces only the files a run writes (``RUN_FILES`` and the sample pictures), and only once the new
run's first checkpoint is saved: until then the new run writes into a hidden folder in --out (``stage_run``),
then its files take the old ones' place in one step (``replace_run``, with Ctrl-C held: ``ctrl_c_held``).

``RunState`` follows what a run has safely on disk, for the line that Ctrl-C, a NaN loss or a full disk
prints: which checkpoint is intact (``saved_line``), and the command that resumes from it (``resume_command``,
``interrupted_line``).
"""
import contextlib
import os
import pathlib
import shlex
import shutil
import signal
import sys
import tempfile
import threading

from tinygan.app.checkpoint import CHECKPOINT_NAME, load_checkpoint
from tinygan.app.errors import CLIError, check
from tinygan.fileio import fsync_folder, unwritable_reason

# what a run writes in --out: --overwrite replaces these and nothing else
RUN_FILES = (CHECKPOINT_NAME, "metrics.csv", "modes.csv", "losses.png", "grad_norms.png", "samples.gif", "eval.csv",
             "eval.png")
SAMPLE_PATTERNS = ("epoch_*.png", "step_*.png")          # in --out/samples/
# --overwrite: hidden folders in --out holding the new run's files until its first checkpoint, and the earlier
# run's files for the instant they make way
STAGING_PREFIX, REPLACED_PREFIX = ".tinygan-new-run-", ".tinygan-old-run-"


# ==================================================================================================
# What is in the folder
# ==================================================================================================
def run_outputs(out):
    """The files in ``out`` that a run of the examples wrote (anything else there is not ours)."""
    out = pathlib.Path(out)
    found = [out / name for name in RUN_FILES if (out / name).is_file()]
    for pattern in SAMPLE_PATTERNS:
        found += sorted((out / "samples").glob(pattern))
    return found


def _same_folder(a, b):
    return pathlib.Path(a).resolve() == pathlib.Path(b).resolve()


def _describe_run(checkpoint):
    """"trained 3 epochs", read from the run's checkpoint."""
    try:
        epoch = int(load_checkpoint(checkpoint)["epoch"])
    except (CLIError, KeyError, TypeError, ValueError):
        return "its checkpoint cannot be read"
    return f"trained {epoch} epoch{'' if epoch == 1 else 's'}"


def _output_names(out, outputs):
    return sorted({p.name if p.parent == out else "samples/*.png" for p in outputs})


# ==================================================================================================
# Before training: refuse what would fail or destroy a run
# ==================================================================================================
def check_writable(out, args):
    """Refuse an output folder that cannot take the run's files now, not when the first epoch's are saved:
    a file, a folder under a file, or one that cannot be created or written (a probe file is created and
    removed; a folder created for it is removed again)."""
    name = f"--out {out}" if args.out else f"the output folder {out}"
    again = "" if args.out else "; pass --out DIR"
    reason = unwritable_reason(out)
    if reason is not None:
        raise CLIError(f"{name} {reason}{again}", 2)
    samples = out / "samples"
    reason = unwritable_reason(samples) if os.path.lexists(samples) else None
    if reason is not None:
        raise CLIError(f"{name}: {samples} {reason} (the sample pictures go there){again}", 2)


def check_out(out, args, ckpt):
    """Refuse an --out that cannot be written, or that holds a run this one would overwrite, unless
    --overwrite; a --resume into its checkpoint's own folder continues that run."""
    check_writable(out, args)
    if ckpt is not None and _same_folder(out, pathlib.Path(args.resume).parent):
        check(not args.overwrite, f"--overwrite would delete the run that --resume {args.resume} continues; "
                                  f"drop --overwrite, or pass another --out")
        return
    outputs = run_outputs(out)
    if not outputs or args.overwrite:
        return
    checkpoint = out / CHECKPOINT_NAME
    if checkpoint.is_file():
        raise CLIError(f"{out} already holds a run ({_describe_run(checkpoint)}): continue it with --resume "
                       f"{checkpoint}, replace it with --overwrite, or pass another --out", 2)
    raise CLIError(f"{out} already holds a run's outputs ({', '.join(_output_names(out, outputs))}) but no "
                   f"checkpoint to resume: replace them with --overwrite, or pass another --out", 2)


def kept_run(out):
    """What --overwrite leaves whole in ``out`` until the new run's first checkpoint, as (what, what to do),
    for the line an interrupted or failed run prints; None when ``out`` holds no run."""
    outputs = run_outputs(out)
    if not outputs:
        return None
    checkpoint = out / CHECKPOINT_NAME
    if checkpoint.is_file():
        return (f"the run already in {out} ({_describe_run(checkpoint)}) is untouched",
                f"continue it with --resume {checkpoint}, or run again with --overwrite to replace it")
    return (f"the earlier outputs in {out} ({', '.join(_output_names(out, outputs))}) are untouched",
            "run again with --overwrite to replace them")


# ==================================================================================================
# --overwrite: the new run in a hidden folder until its first checkpoint, then one swap
# ==================================================================================================
def stage_run(out):
    """--overwrite into a folder holding a run: the hidden folder in ``out`` the new run writes into until
    its first checkpoint (``replace_run``); until then the earlier run is not touched."""
    return pathlib.Path(tempfile.mkdtemp(dir=out, prefix=STAGING_PREFIX))


def replace_run(out, staging):
    """--overwrite, once the new run's first checkpoint is in ``staging``: the earlier run's files
    (``run_outputs``) are renamed out of the way and the staged ones into ``out`` (the checkpoint last), all
    within ``out``, then the earlier ones are deleted. A rename that fails puts back those done, so ``out``
    holds one whole run or the other; anything else in ``out`` is not touched. Run it with Ctrl-C held
    (``ctrl_c_held``): the renames take a moment, and none of them may be left half done."""
    old = run_outputs(out)
    new = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: p.name == CHECKPOINT_NAME)
    aside = pathlib.Path(tempfile.mkdtemp(dir=out, prefix=REPLACED_PREFIX))
    moves = [(p, aside / p.relative_to(out)) for p in old] + [(p, out / p.relative_to(staging)) for p in new]
    done, made = [], []
    try:
        for source, target in moves:
            if not target.parent.is_dir():          # samples/, in the folder aside or in an --out without one
                target.parent.mkdir()
                made.append(target.parent)
            os.replace(source, target)
            done.append((source, target))
    except OSError:
        for source, target in reversed(done):       # whatever cannot be put back stays in the folder aside
            with contextlib.suppress(OSError):
                os.replace(target, source)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            aside.rmdir()
        raise
    for folder in (out, out / "samples"):
        fsync_folder(folder)                        # the renames themselves on disk before the old files go
    shutil.rmtree(aside, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def ctrl_c_held():
    """Ctrl-C during the block takes effect when the block ends (in the main thread; elsewhere there is none)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed and callable(previous):
        previous(signal.SIGINT, None)               # Python's own handler raises KeyboardInterrupt
    elif pressed and previous != signal.SIG_IGN:
        raise KeyboardInterrupt


# ==================================================================================================
# What a stopped run says
# ==================================================================================================
class RunState:
    """What this run has safely on disk, for the line an interrupted or failed run prints."""

    def __init__(self):
        self.checkpoint = None      # the newest checkpoint this run can resume from (at first the --resume one)
        self.saved_epoch = None     # the epoch that checkpoint holds
        self.epoch = None           # the epoch being trained; None before training starts
        self.epochs = None          # --epochs: the total to train
        self.out = None
        self.kept = None            # --overwrite: (the run in --out, still untouched; what to do), see kept_run


def resume_command(prog, args, state):
    """The command line that continues this run from its newest checkpoint, with the options it was given
    that the checkpoint does not record."""
    script = sys.argv[0] if os.path.basename(sys.argv[0]) == prog else f"examples/{prog}"
    words = ["python", script, "--resume", str(state.checkpoint), "--epochs", str(state.epochs)]
    if state.out is not None and not _same_folder(state.out, state.checkpoint.parent):
        words += ["--out", str(state.out)]          # resumed into another folder that has no checkpoint yet
        if run_outputs(state.out):
            words.append("--overwrite")             # its pictures of the unfinished epoch
    if args.device != "auto":
        words += ["--device", args.device]
    for name in ("data_dir", "limit_batches", "sample_every", "log_every", "eval_every", "eval_samples"):
        if getattr(args, name, None) is not None:
            words += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    for name in ("no_download", "quiet", "cuda_graph"):
        if getattr(args, name, False):
            words.append("--" + name.replace("_", "-"))
    return " ".join(shlex.quote(word) for word in words)


def saved_line(state):
    """Which checkpoint of this run is intact, or that there is none (and, with --overwrite before this run's
    first checkpoint, that the run it was to replace is untouched)."""
    if state.checkpoint is None:
        if state.kept is not None:
            return f"this run saved no checkpoint, so {state.kept[0]}"
        return "no epoch completed, so no checkpoint was saved"
    held = "" if state.saved_epoch is None else f" (epoch {state.saved_epoch})"
    return f"the checkpoint {state.checkpoint}{held} is intact" + ("" if state.kept is None else f"; {state.kept[0]}")


def interrupted_line(prog, args, state):
    """The line Ctrl-C prints: where training stopped, what is saved, and how to go on."""
    where = ("before training started" if state.epoch is None else
             f"after epoch {state.epoch} of {state.epochs}" if state.saved_epoch == state.epoch else
             f"in epoch {state.epoch} of {state.epochs}")
    if state.checkpoint is not None:
        return f"{prog}: interrupted {where}; {saved_line(state)}; resume with: {resume_command(prog, args, state)}"
    if state.kept is not None:                      # --overwrite, before this run's first checkpoint
        return f"{prog}: interrupted {where}; no checkpoint was saved yet, so {state.kept[0]}: {state.kept[1]}"
    again = "; start again with --overwrite" if state.out is not None and run_outputs(state.out) else ""
    return f"{prog}: interrupted {where}; no checkpoint was saved yet, so there is nothing to resume{again}"
