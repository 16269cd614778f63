"""Run the PyTorch GAN code people already have on tinygan, by changing only its imports, and on PyTorch itself.

    python benchmarks/port_pytorch_gan.py                               # every MNIST script, both frameworks
    python benchmarks/port_pytorch_gan.py --only gan,wgan_gp --framework tinygan --keep

The scripts: eriklindernoren/PyTorch-GAN's MNIST implementations and pytorch/examples' dcgan/main.py, read from
local git mirrors (``--pytorch-gan``, ``--examples``: git directories; nothing is downloaded, and nothing of
theirs is copied into this repository: each run extracts the script into a temporary folder).

What changes in each script, mechanically (the rest of the text is run as it is):
- tinygan: its import lines only: ``torch`` -> ``tinygan``, ``torchvision`` -> ``tinygan.vision``
  (``import torch`` -> ``import tinygan as torch``, ``import torch.nn as nn`` -> ``import tinygan.nn as nn``,
  ``from torch.autograd import Variable`` -> ``from tinygan.autograd import Variable``, ``from torchvision
  import datasets`` -> ``from tinygan.vision import datasets``, ``import torchvision`` -> ``import
  tinygan.vision as torchvision``);
- both frameworks, the data line: each ``MNIST(...)`` call reads the local IDX folder (``--data``) with
  ``train=False`` (MNIST's training split cannot be downloaded offline; the 10k test split is what is there)
  and is wrapped in ``torch.utils.data.Subset(..., range(batches * batch_size))``, so that one epoch is
  ``--batches`` batches and each script runs to its end with ``--n_epochs 1``.
- PyTorch: torchvision is not installed here, so the temporary folder gets a small ``torchvision`` package
  that serves tinygan.vision's MNIST, transforms and save_image with torch tensors. Both frameworks then read
  the same pixels, and "fails on PyTorch itself" is observed, not assumed.

A script *runs* when it exits with status 0 after printing at least one progress line (``[Epoch 0/1] [Batch
...`` or dcgan's ``[0/1][k/n] Loss_D``) with finite losses. Otherwise the report gives the first error: the
exception and the line of the script that raised it. cogan and pixelda need MNIST-M (their mnistm.py
downloads it), which is not available offline: they are listed as skipped.

Measured (PyTorch 2.13 CPU, 5 batches of 64): aae, acgan, cgan, dcgan, ebgan, gan, infogan, lsgan, relativistic_gan,
sgan, wgan, wgan_div, wgan_gp and pytorch/examples' dcgan run on both. Five fail on PyTorch itself, and on tinygan
at the same line with the same error:
- bgan and dragan: ``NameError: name 'mnist_loader' is not defined`` (their loop reads a loader the script never
  defines, at the mirrored commit 36d3c77);
- began: ``IndexError`` on ``.data[0]`` of a 0-d loss (an idiom of PyTorch before 0.4);
- softmax_gan: ``g_loss.backward()`` after ``optimizer_D.step()`` changed weights its graph saved: the
  "modified by an inplace operation" error;
- cluster_gan: ``sample_z`` hard-codes ``torch.cuda.FloatTensor`` and ``.cuda()``, a TypeError on PyTorch built
  without CUDA (tinygan without CuPy: DeviceUnavailableError). With those two lines pointed at the CPU (tried by
  hand, not by this script), both frameworks stop at ``d_loss.backward()`` (line 474) with the in-place error, so
  it fails on a GPU build of PyTorch too.
"""
import argparse
import ast
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
MIRRORS = pathlib.Path("/work/.mirror")
PYTORCH_GAN = MIRRORS / "eriklindernoren+PyTorch-GAN" / "repo"
EXAMPLES = MIRRORS / "pytorch+examples" / "repo"
DATA = REPO.parent / "shared" / "data" / "mnist"

# PyTorch-GAN's MNIST implementations (the folder and file names); began, softmax_gan and dragan are the ones the
# issue says fail on PyTorch itself: they are run too, to see how.
PYTORCH_GAN_MNIST = ["aae", "acgan", "bgan", "cgan", "cluster_gan", "dcgan", "ebgan", "gan", "infogan", "lsgan",
                     "relativistic_gan", "sgan", "wgan", "wgan_div", "wgan_gp", "began", "softmax_gan", "dragan"]
NEEDS_MNIST_M = {"cogan": "needs MNIST-M (its mnistm.py downloads it; not available offline)",
                 "pixelda": "needs MNIST-M (its mnistm.py downloads it; not available offline)"}
PROGRESS = re.compile(r"\[Epoch \d+/\d+\]|^\[\d+/\d+\]\[\d+/\d+\] Loss_D", re.M)


class Script:
    """One script to port: where it is, and the options that make it a short run."""

    def __init__(self, name, mirror, path, args):
        self.name, self.mirror, self.path, self.args = name, mirror, path, args

    def source(self):
        return subprocess.run(["git", "-C", str(self.mirror), "show", f"HEAD:{self.path}"], check=True,
                              capture_output=True, text=True).stdout


def scripts(pytorch_gan, examples, data, batch_size):
    found = []
    for name in PYTORCH_GAN_MNIST:
        file = "clustergan.py" if name == "cluster_gan" else f"{name}.py"
        args = ["--n_epochs", "1", "--batch_size", str(batch_size)]
        found.append(Script(name, pytorch_gan, f"implementations/{name}/{file}", args))
    found.append(Script("examples/dcgan", examples, "dcgan/main.py",
                        ["--dataset", "mnist", "--dataroot", str(data), "--niter", "1", "--batchSize",
                         str(batch_size), "--workers", "0", "--outf", "out", "--manualSeed", "1"]))
    return found


# ==================================================================================================
# The mechanical rewrite
# ==================================================================================================
def _tinygan_module(module):
    """torch... -> tinygan..., torchvision... -> tinygan.vision...; None for anything else."""
    top, _, rest = module.partition(".")
    if top == "torch":
        return "tinygan" + (f".{rest}" if rest else "")
    if top == "torchvision":
        return "tinygan.vision" + (f".{rest}" if rest else "")
    return None


def _import_text(node):
    """The tinygan version of one import statement, or None when it imports nothing of torch's."""
    if isinstance(node, ast.ImportFrom):
        module = _tinygan_module(node.module or "") if node.level == 0 else None
        if module is None:
            return None
        names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
        return f"from {module} import {names}"
    parts, changed = [], False
    for a in node.names:
        module = _tinygan_module(a.name)
        if module is None:
            parts.append(a.name + (f" as {a.asname}" if a.asname else ""))
            continue
        changed = True
        if a.asname:                                       # import torch.nn as nn -> import tinygan.nn as nn
            parts.append(f"{module} as {a.asname}")
        elif "." not in a.name:                            # import torch -> import tinygan as torch
            parts.append(f"{module} as {a.name}")
        else:                                              # import torch.utils.data -> import tinygan.utils.data
            parts.append(module)                           # (the name torch is bound by the script's import torch)
    return f"import {', '.join(parts)}" if changed else None


def _replace(source, edits):
    """Apply (start, end, text) edits given as byte offsets of ``source``; they must not overlap."""
    data = source.encode()
    for start, end, text in sorted(edits, reverse=True):
        data = data[:start] + text.encode() + data[end:]
    return data.decode()


def _offsets(source):
    starts, total = [], 0
    for line in source.encode().splitlines(keepends=True):
        starts.append(total)
        total += len(line)
    starts.append(total)
    return lambda lineno, col: starts[lineno - 1] + col


def rewrite_imports(source):
    """Only the import lines changed: torch -> tinygan, torchvision -> tinygan.vision."""
    tree, at = ast.parse(source), _offsets(source)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            text = _import_text(node)
            if text is not None:
                edits.append((at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset), text))
    return _replace(source, edits)


def rewrite_data(source, data, limit):
    """Each MNIST(...) call reads ``data`` with train=False, wrapped in Subset(..., range(limit))."""
    tree, at = ast.parse(source), _offsets(source)
    edits = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "MNIST"):
            continue
        start, end = at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset)
        call = source.encode()[start:end].decode()
        inner = []                                          # edits inside the call, offsets relative to it
        root = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "root"), None)
        if root is not None:
            inner.append((at(root.lineno, root.col_offset) - start, at(root.end_lineno, root.end_col_offset) - start,
                          repr(str(data))))
        train = next((k for k in node.keywords if k.arg == "train"), None)
        if train is not None:
            v = train.value
            inner.append((at(v.lineno, v.col_offset) - start, at(v.end_lineno, v.end_col_offset) - start, "False"))
        else:
            paren = call.index("(") + 1
            inner.append((paren, paren, "train=False, " if node.args or node.keywords else "train=False"))
        call = _replace(call, inner)
        edits.append((start, end, f"torch.utils.data.Subset({call}, range({limit}))"))
    if not edits:
        raise ValueError("no MNIST(...) call found")
    return _replace(source, edits)


# ==================================================================================================
# PyTorch's side: a torchvision made of tinygan.vision, in the temporary folder only
# ==================================================================================================
TORCHVISION_SHIM = {
    "__init__.py": '''"""The port checker's torchvision: tinygan.vision's data code with torch tensors."""
from torchvision import datasets, transforms, utils
''',
    "datasets.py": '''import numpy as np
import torch
from tinygan.tensor import Tensor
from tinygan.vision import datasets as _datasets


def _to_torch(x):
    return torch.from_numpy(np.asarray(x.array)) if isinstance(x, Tensor) else x


class MNIST(_datasets.MNIST):
    def __getitem__(self, index):
        img, target = super().__getitem__(index)
        return _to_torch(img), target


class FashionMNIST(_datasets.FashionMNIST):
    def __getitem__(self, index):
        img, target = super().__getitem__(index)
        return _to_torch(img), target
''',
    "transforms.py": '''from tinygan.vision.transforms import (CenterCrop, Compose, InterpolationMode, Lambda,
                                      Normalize, Resize, ToTensor)
''',
    "utils.py": '''import numpy as np
import torch
import tinygan
from tinygan.vision import utils as _utils


def _to_tinygan(t):
    if isinstance(t, (list, tuple)):
        return [_to_tinygan(x) for x in t]
    return tinygan.tensor(t.detach().cpu().numpy())


def make_grid(tensor, **kwargs):
    return torch.from_numpy(np.asarray(_utils.make_grid(_to_tinygan(tensor), **kwargs).array))


def save_image(tensor, fp, format=None, **kwargs):
    _utils.save_image(_to_tinygan(tensor), fp, format=format, **kwargs)
''',
}


def write_shim(folder):
    package = folder / "torchvision"
    package.mkdir(parents=True, exist_ok=True)
    for name, text in TORCHVISION_SHIM.items():
        (package / name).write_text(text)


# ==================================================================================================
# Running one script
# ==================================================================================================
def first_error(stderr, script_name):
    """'<script line>: <code> -> <Exception: message>' from the last traceback in ``stderr``; '' if none."""
    lines = stderr.strip().splitlines()
    if not lines:
        return ""
    start = max((i for i, line in enumerate(lines) if line.startswith("Traceback")), default=None)
    if start is None:
        return lines[-1][:300]
    tb = lines[start:]
    where = ""
    for i, line in enumerate(tb):
        m = re.match(r'\s*File "(.*)", line (\d+)', line)
        if m and pathlib.Path(m.group(1)).name == script_name:
            code = tb[i + 1].strip() if i + 1 < len(tb) and not tb[i + 1].lstrip().startswith("File") else ""
            where = f"line {m.group(2)}: {code} -> "
    message = next((line for line in reversed(tb) if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Warning|Exit"
                                                             r"|Interrupt)?\b.*", line) and not line.startswith(" ")),
                   tb[-1])
    return (where + message.strip())[:400]


def run_one(script, framework, workdir, data, batches, batch_size, timeout):
    """Run ``script`` on ``framework`` in ``workdir``; a dict: ok, progress lines, seconds, error."""
    source = script.source()
    source = rewrite_data(source, data, batches * batch_size)
    if framework == "tinygan":
        source = rewrite_imports(source)
    folder = workdir / framework / script.name.replace("/", "_") / "a" / "b"   # ../../data stays in workdir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / pathlib.Path(script.path).name
    path.write_text(source)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONDONTWRITEBYTECODE="1", PYTHONWARNINGS="ignore")
    paths = [str(REPO)] + ([str(workdir / "shim")] if framework == "torch" else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])
    begin = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, path.name, *script.args], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=timeout)
        rc, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        rc = None
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    seconds = time.perf_counter() - begin
    progress = [line for line in out.splitlines() if PROGRESS.search(line)]
    nan = [line for line in progress if re.search(r"\bnan\b|\binf\b", line, re.I)]
    ok = rc == 0 and bool(progress) and not nan
    if ok:
        error = ""
    elif rc is None:
        error = f"timed out after {timeout} s ({len(progress)} progress lines)"
    elif nan:
        error = f"non-finite loss: {nan[0].strip()}"
    elif rc == 0:
        error = "exited without printing a progress line"
    else:
        error = first_error(err, path.name) or f"exit status {rc}"
    return {"script": script.name, "framework": framework, "ok": ok, "progress_lines": len(progress),
            "seconds": round(seconds, 1), "error": error, "last_progress": progress[-1].strip() if progress else ""}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pytorch-gan", type=pathlib.Path, default=PYTORCH_GAN, help="git dir of PyTorch-GAN")
    parser.add_argument("--examples", type=pathlib.Path, default=EXAMPLES, help="git dir of pytorch/examples")
    parser.add_argument("--data", type=pathlib.Path, default=DATA, help="folder holding the MNIST test split (IDX)")
    parser.add_argument("--framework", choices=["tinygan", "torch", "both"], default="both")
    parser.add_argument("--only", default="", help="comma-separated script names (e.g. gan,wgan_gp,examples/dcgan)")
    parser.add_argument("--batches", type=int, default=5, help="batches in the one epoch each script runs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per script run")
    parser.add_argument("--json", type=pathlib.Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args(argv)

    for mirror in (args.pytorch_gan, args.examples):
        if not (mirror / "HEAD").exists() and not (mirror / ".git").exists():
            parser.error(f"{mirror} is not a git directory")
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder")
    todo = scripts(args.pytorch_gan, args.examples, args.data.resolve(), args.batch_size)
    if args.only:
        wanted = set(args.only.split(","))
        todo = [s for s in todo if s.name in wanted]
        unknown = wanted - {s.name for s in todo} - set(NEEDS_MNIST_M)
        if unknown:
            parser.error(f"unknown scripts {sorted(unknown)}")
    frameworks = ["tinygan", "torch"] if args.framework == "both" else [args.framework]

    workdir = pathlib.Path(tempfile.mkdtemp(prefix="port_pytorch_gan_"))
    write_shim(workdir / "shim")
    results = []
    try:
        for script in todo:
            for framework in frameworks:
                r = run_one(script, framework, workdir, args.data.resolve(), args.batches, args.batch_size,
                            args.timeout)
                results.append(r)
                status = "runs" if r["ok"] else "FAILS"
                print(f"{script.name:18s} {framework:8s} {status:5s} {r['seconds']:6.1f}s  {r['error']}", flush=True)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for name, reason in NEEDS_MNIST_M.items():
        if not args.only or name in args.only.split(","):
            results.append({"script": name, "framework": "both", "ok": None, "error": reason})

    print()
    print("| script | " + " | ".join(frameworks) + " | first error |")
    print("|---|" + "---|" * len(frameworks) + "---|")
    for script in [s.name for s in todo] + [n for n in NEEDS_MNIST_M if not args.only or n in args.only]:
        row = [r for r in results if r["script"] == script]
        if row and row[0]["framework"] == "both":
            print(f"| {script} | " + " | ".join("skipped" for _ in frameworks) + f" | {row[0]['error']} |")
            continue
        cells = ["runs" if r["ok"] else "fails" for r in row]
        errors = "; ".join(f"{r['framework']}: {r['error']}" for r in row if not r["ok"])
        print(f"| {script} | " + " | ".join(cells) + f" | {errors} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
