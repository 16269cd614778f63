"""Run the PyTorch corpus (public MNIST-scale scripts, run unchanged but for the rewrite below) on tinygan and,
where torch is installed, on torch; compare the first losses and the time per iteration.

The scripts are not stored in this repository (we do not redistribute others' code): corpus.json pins each one
(repository, path, commit, license, sha256, byte length) and ``run.py --get`` downloads them into scripts/ (and
their license texts into LICENSES/), from raw.githubusercontent.com at that commit, keeping a file only if its
sha256 matches. A script not downloaded is reported as "not downloaded (run.py --get)" and skipped; results.json
and RESULTS.md keep its last results.

    python benchmarks/pytorch_corpus/run.py --get               # fetch the scripts (needs the network), once
    python benchmarks/pytorch_corpus/run.py                     # every script, both frameworks, 1 and 2 threads
    python benchmarks/pytorch_corpus/run.py --only examples_mnist,yunjey_vae --framework tinygan --threads 1
    python benchmarks/pytorch_corpus/run.py --only morvan_503_dropout --update   # rerun one, rewrite RESULTS.md
    python benchmarks/pytorch_corpus/run.py --table                 # the compact table of results.json, for README

Without torch the tinygan half runs alone; the table then leaves torch's columns empty. CI runs that half through
tests/test_pytorch_corpus.py: each script results.json says runs on tinygan must still run and give the first losses
torch recorded there.

The mechanical rewrite (done on a temporary copy; the downloaded scripts stay the originals, see SOURCES.md):
1. both frameworks, the per-script substitutions in ``CORPUS`` below (regexes, each must match exactly the
   number of times given): epoch and iteration counts only;
2. both frameworks, data paths: each ``MNIST(...)``/``FashionMNIST(...)`` call reads ``--data`` (the 10k test
   split: MNIST's training split is not available offline) with ``train=False``; ``FashionMNIST`` becomes ``MNIST``
   (Fashion-MNIST's files are not available offline either); when the script's entry says
   ``subset=N`` the call is wrapped in ``torch.utils.data.Subset(..., range(N))`` so an epoch is a few batches;
3. tinygan only: the import lines, ``torch`` -> ``tinygan`` and ``torchvision`` -> ``tinygan.vision``
   (``rewrite_imports`` of benchmarks/port_pytorch_gan.py, reused as it is);
4. command-line options given in ``CORPUS`` (``--epochs 1``...), the same for both.
On the torch side ``torchvision`` is torchvision_shim/ (written against torch, NumPy and PIL only, nothing of
tinygan's; real torchvision does not install beside the local torch build).

Identical weights and data: harness.py (see its docstring) draws the script's random tensors, every parameter's
first value and dropout masks from fixed NumPy generators on both sides and turns DataLoader shuffling off, then
records every scalar passed to ``.backward()`` and its time. Loss agreement compares the first three recorded
losses: "agree" when each relative difference is <= 1e-5 (float32 rounding through a few layers), "close" <= 1e-3,
else "DIFFER". Time: seconds per backward call (first to last, so the first iteration's warm-up is left out), at 1
and 2 threads (OMP/MKL/OPENBLAS_NUM_THREADS, and torch.set_num_threads), the median of ``--repeat`` runs (3; torch
and tinygan in turn); the ratio is tinygan / torch.

Output: RESULTS.md beside this file (written atomically): a compact summary table (what ``--table`` prints) and the
details (first errors, milliseconds per backward); results.json with the raw runs.
"""
import argparse
import ast
import importlib.util
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(HERE.parent), str(HERE)]
from port_pytorch_gan import _offsets, _replace, rewrite_imports  # noqa: E402
import corpus_sources  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "mnist"
SCRIPTS = HERE / "scripts"

# name (scripts/<name>.py): {"args": command-line options, "subs": [(regex, replacement, count)], "subset": N or
# None (present: MNIST calls rewritten), "dirs": folders the script's repository has beside it, "beside": {module
# file name: stored file in scripts/} for modules of its repository it imports (imports rewritten for tinygan)}
R500 = [(r"range\(500\)", "range(10)", 1)]
R2000 = [(r"range\(2000\)", "range(20)", 1)]
CORPUS = {
    # pytorch/examples
    "examples_mnist": {"args": ["--epochs", "1"], "subset": 640},
    "examples_vae": {"args": ["--epochs", "1"], "subset": 640, "dirs": ["results"]},   # vae/results/ in the repo
    "examples_mnist_forward_forward": {"args": ["--epochs", "5", "--train_size", "640", "--test_size", "640"],
                                       "subset": 640},
    "examples_dcgan": {"args": ["--dataset", "mnist", "--dataroot", "DATA", "--niter", "1", "--batchSize", "64",
                                "--workers", "0", "--outf", "out", "--manualSeed", "1"], "subset": 640},
    "examples_regression": {},
    "examples_mnist_rnn": {"args": ["--epochs", "1"], "subset": 640},
    # yunjey/pytorch-tutorial
    "yunjey_linear_regression": {"subs": [(r"num_epochs = 60", "num_epochs = 10", 1)]},
    "yunjey_logistic_regression": {"subs": [(r"num_epochs = 5", "num_epochs = 1", 1)], "subset": 600},
    "yunjey_feedforward_neural_network": {"subs": [(r"num_epochs = 5", "num_epochs = 1", 1)], "subset": 600},
    "yunjey_convolutional_neural_network": {"subs": [(r"num_epochs = 5", "num_epochs = 1", 1)], "subset": 600},
    "yunjey_recurrent_neural_network": {"subs": [(r"num_epochs = 2", "num_epochs = 1", 1)], "subset": 600},
    "yunjey_bidirectional_rnn": {"subs": [(r"num_epochs = 2", "num_epochs = 1", 1)], "subset": 600},
    "yunjey_generative_adversarial_network": {"subs": [(r"num_epochs = 200", "num_epochs = 1", 1)], "subset": 600},
    "yunjey_variational_autoencoder": {"subs": [(r"num_epochs = 15", "num_epochs = 1", 1)], "subset": 640},
    # jcjohnson/pytorch-examples ("Learning PyTorch with Examples")
    "jcjohnson_two_layer_net_tensor": {"subs": R500},
    "jcjohnson_two_layer_net_autograd": {"subs": R500},
    "jcjohnson_two_layer_net_custom_function": {"subs": R500},
    "jcjohnson_two_layer_net_nn": {"subs": R500},
    "jcjohnson_two_layer_net_optim": {"subs": R500},
    "jcjohnson_two_layer_net_module": {"subs": R500},
    "jcjohnson_dynamic_net": {"subs": R500},
    # MorvanZhou/PyTorch-Tutorial
    "morvan_301_regression": {"subs": [(r"range\(200\)", "range(10)", 1)]},
    "morvan_302_classification": {"subs": [(r"range\(100\)", "range(10)", 1)]},
    "morvan_303_build_nn_quickly": {},
    "morvan_304_save_reload": {"subs": [(r"range\(100\)", "range(10)", 1)]},
    "morvan_305_batch_train": {},
    "morvan_306_optimizer": {"subs": [(r"EPOCH = 12", "EPOCH = 1", 1)]},
    "morvan_401_CNN": {"subset": None, "mnist": True},
    "morvan_402_RNN_classifier": {"subset": None, "mnist": True},
    "morvan_404_autoencoder": {"subs": [(r"EPOCH = 10", "EPOCH = 1", 1)], "subset": None, "mnist": True},
    "morvan_406_GAN": {"subs": [(r"range\(10000\)", "range(10)", 1)]},
    "morvan_406_conditional_GAN": {"subs": [(r"range\(10000\)", "range(10)", 1)]},
    "morvan_503_dropout": {"subs": [(r"range\(500\)", "range(10)", 1)]},
    "morvan_504_batch_normalization": {"subs": [(r"EPOCH = 12", "EPOCH = 1", 1)]},
    # pytorch/tutorials (beginner_source/: the 60-minute blitz and "Learning PyTorch with Examples")
    "tutorials_tensor_tutorial": {},
    "tutorials_autograd_tutorial": {},
    "tutorials_neural_networks_tutorial": {},
    "tutorials_polynomial_autograd": {"subs": R2000},
    "tutorials_polynomial_custom_function": {"subs": R2000},
    "tutorials_polynomial_nn": {"subs": R2000},
    "tutorials_polynomial_optim": {"subs": R2000},
    "tutorials_polynomial_module": {"subs": R2000},
    "tutorials_dynamic_net": {"subs": [(r"range\(30000\)", "range(20)", 1)]},
    # aladdinpersson/Machine-Learning-Collection (ML/Pytorch/Basics, more_advanced/VAE); check_accuracy reads
    # loader.dataset.train, which a Subset lacks, so those read the whole 10k split (and stop at 60 backwards)
    "aladdin_simple_fullynet": {"subs": [(r"num_epochs = 3", "num_epochs = 1", 1)], "subset": 640},
    "aladdin_simple_CNN": {"subs": [(r"num_epochs = 5", "num_epochs = 1", 1)], "subset": None},
    "aladdin_rnn_gru_lstm": {"subs": [(r"num_epochs = 2", "num_epochs = 1", 1)], "subset": None},
    "aladdin_bidirectional_lstm": {"subs": [(r"num_epochs = 2", "num_epochs = 1", 1)], "subset": None},
    "aladdin_init_weights": {"incomparable": "prints the weights nn.init.kaiming_uniform_ draws, from each "
                                             "framework's own generator, and never runs the model"},
    "aladdin_lr_ratescheduler": {"subs": [(r"num_epochs = 100", "num_epochs = 2", 1)], "subset": 640},
    "aladdin_progress_bar": {"subs": [(r"NUM_EPOCHS = 10", "NUM_EPOCHS = 1", 1), (r"\(1000, ", "(16, ", 2)]},
    "aladdin_tensorbasics": {},
    "aladdin_set_seeds": {},
    "aladdin_vae": {"subs": [(r"NUM_EPOCHS = 10", "NUM_EPOCHS = 1", 1)], "subset": 640,
                    "beside": {"model.py": "aladdin_vae_model.py"}},   # `from model import ...`
}
NOT_IN_CORPUS = {
    "pytorch/examples mnist_hogwild": "torch.multiprocessing workers sharing a model (share_memory): out of scope",
    "pytorch/examples siamese_network": "builds on torchvision.models.resnet18: no torchvision models here",
    "yunjey 02-intermediate/deep_residual_network": "CIFAR-10 (not available offline)",
    "yunjey 01-basics/pytorch_basics": "downloads CIFAR-10 and a pretrained resnet18",
    # L1aoXingyu/pytorch-beginner (looked at by ext2)
    "L1aoXingyu/pytorch-beginner (all scripts)": "no license file (checked at commit a57dd7ea35c9, 2025-10-23), so "
    "not redistributable; run from a private copy instead (gaps found: tests/test_corpus_gaps_ext2.py)",
    "aladdin Basics/pytorch_std_mean": "CIFAR-10 (not available offline)",
    "aladdin Basics/pytorch_loadsave": "builds torchvision.models.vgg16: no torchvision models here",
    "aladdin Basics/pytorch_mixed_precision_example": "GPU only (asserts device == 'cuda'; torch.cuda.amp)",
    "aladdin GANs/1. SimpleGAN/fc_gan, GANs/2. DCGAN/train, more_advanced/GANs/DCGAN_mnist":
        "torch.utils.tensorboard.SummaryWriter (tensorboard)",
}


def not_downloaded(name):
    """The files a script needs in scripts/ (itself and its "beside" modules) that are missing on disk."""
    return corpus_sources.missing_files([f"{name}.py", *CORPUS[name].get("beside", {}).values()])


# ==================================================================================================
# The rewrite
# ==================================================================================================
def rewrite_data(source, data, subset):
    """Every MNIST(...)/FashionMNIST(...) call: root -> data, train -> False, wrapped in Subset when asked."""
    tree, at = ast.parse(source), _offsets(source)
    edits = []
    raw = source.encode()
    for node in ast.walk(tree):
        name = getattr(node.func, "attr", getattr(node.func, "id", None)) if isinstance(node, ast.Call) else None
        if name not in ("MNIST", "FashionMNIST"):
            continue
        start, end = at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset)
        call = raw[start:end].decode()
        inner = []
        if name == "FashionMNIST":                                       # its name ends the callee's text
            func_end = at(node.func.end_lineno, node.func.end_col_offset) - start
            inner.append((func_end - len(name), func_end, "MNIST"))
        train = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "train"),
                                                              None)
        root = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "root"), None)
        if root is not None:                      # a positional root takes train=False right after it, if missing
            after = ", train=False" if train is None and node.args else ""
            inner.append((at(root.lineno, root.col_offset) - start, at(root.end_lineno, root.end_col_offset) - start,
                          repr(str(data)) + after))
        if train is not None:
            inner.append((at(train.lineno, train.col_offset) - start,
                          at(train.end_lineno, train.end_col_offset) - start, "False"))
        elif not node.args:
            paren = call.index("(") + 1
            inner.append((paren, paren, "train=False, " if node.keywords else "train=False"))
        call = _replace(call, inner)
        if subset:
            call = f"torch.utils.data.Subset({call}, range({subset}))"
        edits.append((start, end, call))
    if not edits:
        raise ValueError("no MNIST(...) call found")
    return _replace(source, edits)


def rewrite(name, framework, data):
    entry = CORPUS[name]
    source = (SCRIPTS / f"{name}.py").read_text()
    for pattern, replacement, count in entry.get("subs", []):
        source, n = re.subn(pattern, replacement, source)
        if n != count:
            raise ValueError(f"{name}: {pattern!r} matched {n} times, expected {count}")
    if "subset" in entry:
        source = rewrite_data(source, data, entry["subset"])
    if framework == "tinygan":
        source = rewrite_imports(source)
    return source


# ==================================================================================================
# Running
# ==================================================================================================
def run_one(name, framework, threads, workdir, data, timeout, probe=False, cap=None):
    """Rewrite and run one script in its own process; its record (harness.py) plus seconds, stdout_head, error.
    ``cap``: stop after that many backward calls (harness.py's CORPUS_CAP, 60 unless given)."""
    if not_downloaded(name):
        return {"ok": False, "error": corpus_sources.NOT_DOWNLOADED, "losses": [], "times": [], "seconds": 0.0}
    folder = workdir / f"{framework}{threads}{'probe' if probe else ''}" / name / "a" / "b"   # ../../data stays inside
    folder.mkdir(parents=True, exist_ok=True)
    for d in CORPUS[name].get("dirs", []):
        (folder / d).mkdir(exist_ok=True)
    script = folder / f"{name}.py"
    try:
        with warnings.catch_warnings():          # parsing a script warns of its own '\s' escapes: not ours
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            script.write_text(rewrite(name, framework, data))
            for module, stored in CORPUS[name].get("beside", {}).items():  # modules the script imports
                source = (SCRIPTS / stored).read_text()
                (folder / module).write_text(rewrite_imports(source) if framework == "tinygan" else source)
    except Exception as exc:                                             # noqa: BLE001
        return {"ok": False, "error": f"rewrite failed: {exc}", "losses": [], "times": [], "seconds": 0.0}
    out = folder / "record.json"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               PYTHONWARNINGS="ignore")
    if probe:
        env["CORPUS_PROBE"] = "1"
    if cap is not None:
        env["CORPUS_CAP"] = str(cap)
    paths = [str(REPO)] + ([str(HERE / "torchvision_shim")] if framework == "torch" else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])
    args = [str(data) if a == "DATA" else a for a in CORPUS[name].get("args", [])]
    begin = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(HERE / "harness.py"), framework, str(threads), str(out),
                               script.name, *args], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=timeout)
        stdout, stderr, rc = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired:
        stdout, stderr, rc = "", "", None
    record = json.loads(out.read_text()) if out.exists() else {"ok": False, "losses": [], "times": []}
    record["seconds"] = round(time.perf_counter() - begin, 2)
    record["stdout_head"] = stdout[:2000]
    if rc is None:
        record["ok"], record["error"] = False, f"timed out after {timeout} s"
    elif not record.get("ok") and not record.get("error"):
        tail = [line for line in stderr.strip().splitlines() if line.strip()]
        record["error"] = (tail[-1] if tail else f"exit status {rc}")[:400]
    return record


def per_backward(record):
    """Seconds per backward call: the median over the repeated runs (``per_backward_runs``) where there are
    some, else this run's (first call to last)."""
    runs = [r for r in record.get("per_backward_runs", []) if r is not None]
    if runs:
        return statistics.median(runs)
    t = record.get("times", [])
    return (t[-1] - t[0]) / (len(t) - 1) if len(t) >= 3 else None


def ratio(results_row, n):
    """tinygan's seconds per backward over torch's at n threads, where both ran the same number of backwards."""
    t, g = results_row.get(f"torch{n}"), results_row.get(f"tinygan{n}")
    tt, tg = (per_backward(t) if t else None), (per_backward(g) if g else None)   # also when the script failed
    same = t and g and t.get("n_backward") == g.get("n_backward")                # after its training loop
    return (tg / tt if tt and tg and same else None), tt, tg


NUMBER = re.compile(r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+")


def compared_values(a, b, n_losses=3):
    """What two runs are compared on: "loss", the first n_losses recorded losses of each, or, where neither called
    backward, "printed", the first five decimals each printed; then both lists and their (a, b) pairs."""
    la, lb = a.get("losses", [])[:n_losses], b.get("losses", [])[:n_losses]
    what = "loss"
    if not la and not lb:
        la = [float(x) for x in NUMBER.findall(a.get("stdout_head", ""))][:5]
        lb = [float(x) for x in NUMBER.findall(b.get("stdout_head", ""))][:5]
        what = "printed"
    return what, la, lb, [(x, y) for x, y in zip(la, lb) if x is not None and y is not None]


def relative_difference(pairs):
    """The largest |x - y| / max(|x|, |y|, 1e-6) over the pairs."""
    return max(abs(x - y) / max(abs(x), abs(y), 1e-6) for x, y in pairs)


def agreement(a, b, name=None):
    """Compare the first three losses (or, with no backward, the first five decimals printed); a short text."""
    if name in CORPUS and "incomparable" in CORPUS[name]:
        return "not comparable: " + CORPUS[name]["incomparable"]
    what, la, lb, pairs = compared_values(a, b)
    if not pairs:
        return "no losses" if not la and not lb else "n/a"
    worst = relative_difference(pairs)
    verdict = "agree" if worst <= 1e-5 else "close" if worst <= 1e-3 else "DIFFER"
    first = f"{pairs[0][0]:.6g}" + ("" if verdict == "agree" else f" vs {pairs[0][1]:.6g}")
    return f"{verdict} ({what} {first}; rel {worst:.1e}, n={len(pairs)})"


def cell(record):
    if record is None:
        return "-"
    if record.get("ok"):
        return "runs" + (" (capped)" if record.get("capped") else "")
    return "**fails**: `" + record.get("error", "?").replace("|", "\\|").replace("`", "'")[:220] + "`"


def table(results, frameworks, threads):
    lines = ["| script | torch | tinygan (or its first error) | loss agreement (tinygan vs torch) | "
             + " | ".join(f"s/backward torch, tinygan, ratio @{n} thr" for n in threads) + " |",
             "|---|---|---|---|" + "---|" * len(threads)]
    for name in results:
        r = results[name]
        t1, g1 = r.get(f"torch{threads[0]}"), r.get(f"tinygan{threads[0]}")
        agree = agreement(g1, t1, name) if t1 and g1 and (t1.get("losses") or t1.get("ok")) else "-"
        times = []
        for n in threads:
            x, tt, tg = ratio(r, n)
            times.append((f"{tt * 1e3:.1f} ms, " if tt else "-, ") + (f"{tg * 1e3:.1f} ms, " if tg else "-, ")
                         + (f"{x:.1f}x" if x else "-"))
        lines.append(f"| {name} | {cell(t1) if 'torch' in frameworks else 'not run'} | {cell(g1)} | {agree} | "
                     + " | ".join(times) + " |")
    return "\n".join(lines)


def short_cell(record):
    if record is None:
        return "-"
    return ("runs" + (" (capped)" if record.get("capped") else "")) if record.get("ok") else "fails"


def compact_table(results, threads):
    """One line a script, for the README: runs or fails, loss agreement, time ratio (tinygan / torch)."""
    lines = ["| script | torch | tinygan | loss agreement | " + " | ".join(f"time ratio @{n} thr" for n in threads)
             + " |", "|---|---|---|---|" + "---|" * len(threads)]
    for name, r in results.items():
        t1, g1 = r.get(f"torch{threads[0]}"), r.get(f"tinygan{threads[0]}")
        agree = agreement(g1, t1, name) if t1 and g1 and (t1.get("losses") or t1.get("ok")) else "-"
        agree = agree.split(" (")[0].split(":")[0] + (f" ({agree.split('rel ')[1].split(',')[0]})" if "rel " in agree
                                                      else "")
        cells = []
        for n in threads:
            x = ratio(r, n)[0]
            once = any(len(r.get(f"{fw}{n}", {}).get("per_backward_runs", [])) < 2 for fw in ("torch", "tinygan"))
            cells.append(f"{x:.1f}x" + ("*" if once else "") if x else "-")
        lines.append(f"| {name} | {short_cell(t1)} | {short_cell(g1)} | {agree} | " + " | ".join(cells) + " |")
    if any("x*" in line for line in lines):
        lines.append("\n\\* one run each, not a median (timed before `--repeat`, or with `--repeat 1`)")
    return "\n".join(lines)


def write_atomic(path, text):
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def probe(args):
    names = [n for n in CORPUS if not args.only or n in args.only.split(",")]
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="pytorch_corpus_probe_"))
    lines = ["# PyTorch corpus on tinygan, with stand-ins for the known gaps",
             "", "Generated by `python benchmarks/pytorch_corpus/run.py --probe` (tinygan, 1 thread): each script run "
             "with probe_patches.py's run-time stand-ins (nothing under tinygan/ changed). *Gaps touched*: the "
             "stand-ins the script used, in order; *then*: the first error no stand-in covers.", "",
             "| script | gaps touched (patched) | then |", "|---|---|---|"]
    try:
        for name in names:
            if not_downloaded(name):
                print(f"{name:40s} {corpus_sources.NOT_DOWNLOADED}", flush=True)
                continue
            r = run_one(name, "tinygan", 1, workdir, args.data.resolve(), args.timeout, probe=True)
            then = "runs to the end" if r.get("ok") else "`" + r.get("error", "?").replace("|", "\\|") + "`"
            print(f"{name:40s} {', '.join(r.get('gaps', []))} :: {then[:160]}", flush=True)
            lines.append(f"| {name} | {', '.join(r.get('gaps', [])) or '-'} | {then} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not args.only:
        write_atomic(HERE / "PROBE.md", "\n".join(lines) + "\n")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=pathlib.Path, default=DATA, help="folder holding the MNIST test split (IDX)")
    parser.add_argument("--framework", choices=["tinygan", "torch", "both"], default="both")
    parser.add_argument("--only", default="", help="comma-separated script names")
    parser.add_argument("--threads", default="1,2", help="thread counts to time, e.g. 1,2")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--update", action="store_true",
                        help="with --only: rerun those scripts and rewrite RESULTS.md from results.json plus them")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each script per framework and thread count; times are their medians")
    parser.add_argument("--rewrite", action="store_true", help="rewrite RESULTS.md from results.json, running nothing")
    parser.add_argument("--table", action="store_true",
                        help="print only the compact table (script, runs, agreement, time ratios) of results.json")
    parser.add_argument("--get", action="store_true",
                        help="download the scripts (those of --only, else all) and license texts missing on disk, "
                             "pinned by commit and checked by sha256 (corpus.json)")
    parser.add_argument("--probe", action="store_true",
                        help="tinygan only, 1 thread, with probe_patches.py's stand-ins for known gaps: which gaps "
                             "each script touches and what it hits next (PROBE.md)")
    args = parser.parse_args(argv)
    if args.get:
        return corpus_sources.get(args.only.split(",") if args.only else None)
    if args.probe:
        return probe(args)
    if args.table:
        results = json.loads((HERE / "results.json").read_text())
        print(compact_table(results, [int(n) for n in args.threads.split(",")]))
        return 0
    names = [] if args.rewrite else [n for n in CORPUS if not args.only or n in args.only.split(",")]
    args.update = args.update or args.rewrite
    threads = [int(n) for n in args.threads.split(",")]
    frameworks = ["tinygan", "torch"] if args.framework == "both" else [args.framework]
    if "torch" in frameworks and importlib.util.find_spec("torch") is None:
        print("torch is not installed: running the tinygan half only", file=sys.stderr)
        frameworks.remove("torch")
    data = args.data.resolve()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="pytorch_corpus_"))
    results, absent = {}, [name for name in names if not_downloaded(name)]
    try:
        for name in names:
            if name in absent:
                print(f"{name:40s} {corpus_sources.NOT_DOWNLOADED}: its last results are kept", flush=True)
                continue
            results[name] = {}
            for n in threads:
                for repeat in range(args.repeat):                    # torch and tinygan in turn, so drift in
                    for fw in frameworks:                            # the machine's speed hits both alike
                        if repeat and not results[name][f"{fw}{n}"].get("n_backward"):
                            continue                                 # no backward call to time: once is enough
                        r = run_one(name, fw, n, workdir, data, args.timeout)
                        first = results[name].setdefault(f"{fw}{n}", dict(r, per_backward_runs=[]))
                        first["per_backward_runs"].append(per_backward(r))
                        print(f"{name:40s} {fw:8s} {n}thr #{repeat + 1} {'runs ' if r.get('ok') else 'FAILS'} "
                              f"{r['seconds']:6.1f}s {r.get('error', '')[:150]}", flush=True)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if (args.update or absent and not args.only) and (HERE / "results.json").exists():
        kept = json.loads((HERE / "results.json").read_text())     # scripts not run (not downloaded, or not in
        kept.update(results)                                        # --only with --update) keep their last rows
        results, names, args.only = {n: kept[n] for n in CORPUS if n in kept}, [n for n in CORPUS if n in kept], ""
    old = [n for n in absent if n in results]
    g = sum(1 for r in results.values() if r.get(f"tinygan{threads[0]}", {}).get("ok"))
    t = sum(1 for r in results.values() if r.get(f"torch{threads[0]}", {}).get("ok"))
    header = (f"# PyTorch corpus on tinygan\n\nGenerated by `python benchmarks/pytorch_corpus/run.py` "
              f"({time.strftime('%Y-%m-%d')}, CPU, threads {args.threads}). {len(results)} scripts: "
              f"{t} run on torch, {g} on tinygan. Columns and method: run.py's docstring; the scripts' "
              f"sources: SOURCES.md."
              + (f" Not downloaded, rows from the previous run: {', '.join(old)}." if old else "") + "\n\n")
    notes = "\n\nNot in the corpus:\n" + "\n".join(f"- {k}: {v}" for k, v in NOT_IN_CORPUS.items()) + "\n"
    if not args.only:
        write_atomic(args.out, header + "## Summary\n\nTime ratio: tinygan's seconds per backward over torch's, "
                     f"medians of {args.repeat} runs each (`run.py --table` prints this table).\n\n"
                     + compact_table(results, threads) + "\n\n## Details\n\n" + table(results, frameworks, threads)
                     + notes)
        slim = {n: {k: {kk: (vv[:500] if kk == "stdout_head" else vv) for kk, vv in v.items()} for k, v in r.items()}
                for n, r in results.items()}
        write_atomic(HERE / "results.json", json.dumps(slim, indent=1))
    print(table(results, frameworks, threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
