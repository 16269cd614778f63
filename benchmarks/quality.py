"""What the examples' GANs make, measured: trains each recipe over several seeds and writes QUALITY.md.

    python benchmarks/quality.py --data-dir ../shared/data/mnist            # every row (about 20 min, 2 cores)
    python benchmarks/quality.py --data-dir ../shared/data/mnist --only toy  # one group of rows

MNIST rows (MLP GAN, DCGAN, conditional DCGAN) train on the 10k test split (the split that is there
offline) with the examples' defaults and are judged by ``python -m tinygan.evaluate CHECKPOINT --json``:
10,000 samples against the real split, with the real-vs-real floor. Toy rows train the 2-D ring and grid
and read the last line of the run's modes.csv (2,500 samples), beside PacGAN's published Table 1.

Remedy rows (``--only remedies``, issue 14) train the toy ring and grid with each remedy of the examples alone
(--pack, --mbstd, --ema, --g-loss feature-matching, --lr-d, --lr-schedule, --spectral-norm, --r1) and combined
(--recipe best), seeds 0-2 (the recipe: 0-9), and write their own section of QUALITY.md; the other sections
are kept as they are when their group is not run.

Each run goes to runs/quality/<row>_seed<k>/; a run whose checkpoint already holds the epochs asked for is
not trained again (so an interrupted script resumes), and QUALITY.md is written atomically at the end.
"""
import argparse
import concurrent.futures
import csv
import datetime
import json
import math
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RUNS = REPO / "runs" / "quality"
QUALITY = REPO / "benchmarks" / "QUALITY.md"

# row: (example script, extra options, epochs, seeds)
MNIST_ROWS = {
    "MLP GAN": ("examples/mnist_mlp_gan.py", [], 60, (0, 1, 2)),
    "DCGAN": ("examples/mnist_dcgan.py", [], 10, (0, 1, 2)),
    "conditional DCGAN": ("examples/mnist_dcgan.py", ["--conditional"], 10, (0, 1, 2)),
}
# one MLP GAN run scored every 5 epochs while it trains: does more training lower FLD?
CURVE_ROWS = {"MLP GAN curve": ("examples/mnist_mlp_gan.py", ["--eval-every", "5"], 60, (0,))}
CURVE_PICTURE = REPO / "benchmarks" / "images" / "quality_mlp_gan_eval_curve.png"
TOY_ROWS = {
    "ring": ("examples/toy_2d_gan.py", ["--dataset", "ring"], 10, tuple(range(10))),
    "grid": ("examples/toy_2d_gan.py", ["--dataset", "grid"], 10, tuple(range(10))),
}
# issue 14's remedies, each alone on the toy's defaults, then combined: row name -> extra options (seeds 0-2)
REMEDIES = {
    "plain": [],
    "pack 2": ["--pack", "2"],
    "mbstd": ["--mbstd"],
    "ema 0.999": ["--ema", "0.999"],
    "feature matching": ["--g-loss", "feature-matching"],
    "TTUR lr-d 2e-3": ["--lr-d", "2e-3"],
    "linear lr decay": ["--lr-schedule", "linear"],
    "cosine lr decay": ["--lr-schedule", "cosine"],
    "spectral norm": ["--spectral-norm"],
    "ema + linear decay": ["--ema", "0.999", "--lr-schedule", "linear"],
    "ema + linear decay + pack 2": ["--ema", "0.999", "--lr-schedule", "linear", "--pack", "2"],
    "ema + linear decay + mbstd": ["--ema", "0.999", "--lr-schedule", "linear", "--mbstd"],
    "ema + linear decay, 3x steps": ["--ema", "0.999", "--lr-schedule", "linear", "--steps-per-epoch", "1500"],
    "r1 0.5": ["--r1", "0.5"],
    "recipe best without r1": ["--ema", "0.999", "--lr-schedule", "linear", "--hidden", "64,64,64,64", "--latent-dim",
                               "2", "--steps-per-epoch", "2500"],
    "recipe best": ["--r1", "0.5", "--ema", "0.999", "--lr-schedule", "linear", "--hidden", "64,64,64,64",
                    "--latent-dim", "2", "--steps-per-epoch", "2500"],
}
RECIPE_ROW = "recipe best"                           # the options --recipe best stands for (tinygan/app/options.py)
# rows over more seeds than the 3 of one remedy alone
ROW_SEEDS = {"plain": tuple(range(5)), "ema + linear decay, 3x steps": tuple(range(5)), RECIPE_ROW: tuple(range(10))}
REMEDY_SEEDS = (0, 1, 2)
REMEDIES_HEADING = "## Remedies for mode collapse on the 2-D mixtures (issue 14)"
# measured by hand (the runs are listed in it): kept as it is when this script rewrites QUALITY.md
MNIST_REMEDIES_HEADING = "## Remedies and gradient penalties on MNIST (issues 12 and 14)"
# the numbers of `python -m tinygan.evaluate --json` in the MNIST table, in its columns' order
METRIC_KEYS = ("fld", "classifier_score", "digits", "kl_to_real", "precision", "recall")
# PacGAN (Lin et al. 2018), Table 1: modes, % high-quality samples, reverse KL
PACGAN = {"ring": {"GAN": (6.3, 98.2, 0.45), "PacGAN2": (7.9, 95.6, 0.07)},
          "grid": {"GAN": (17.3, 94.8, 0.70), "PacGAN2": (23.8, 91.3, 0.13)}}


def slug(name):
    return re.sub(r"[^a-z0-9.-]+", "_", name.lower())


def remedy_rows():
    """{run name: (script, extra, epochs, seeds)} of the remedy table (its plain runs are its own: trained by the
    same code as the remedies beside them)."""
    rows = {}
    for data in ("ring", "grid"):
        for name, extra in REMEDIES.items():
            run = f"{data} {name}"
            seeds = ROW_SEEDS.get(name, REMEDY_SEEDS)
            rows[run] = ("examples/toy_2d_gan.py", ["--dataset", data] + extra, 10, seeds)
    return rows


def remedies_section():
    """The remedy table: each row's mean +- standard error over its seeds, and the per-seed spread."""
    from tinygan.app.options import RECIPES
    best = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in RECIPES["toy"]["best"].items())
    lines = [REMEDIES_HEADING, "",
             "`python examples/toy_2d_gan.py --dataset DATASET --seed S OPTIONS` (10 epochs of 500 steps, batch 256, "
             "Adam lr 1e-3, the defaults), one option at a time, then combined; `--recipe best` is "
             f"`{best}`. Each number is the last epoch's modes.csv line (2,500 "
             "samples, drawn from G_ema with --ema): mean +- standard error over the seeds. The issue's targets: "
             "ring >= 7.9 of 8 modes with >= 90% high quality, grid >= 24 of 25 with >= 85% (10 seeds). "
             "`python benchmarks/quality.py --only remedies` trains and writes this section.", "",
             "| data | options | seeds | modes | high quality % | reverse KL | worst seed (modes, hq %) |",
             "|---|---|---|---|---|---|---|"]
    for run, (_, extra, _, seeds) in remedy_rows().items():
        data = extra[1]
        results = [toy_result(run, s) for s in seeds]
        worst = min(results, key=lambda r: (r["modes"], r["high_quality"]))
        options = " ".join(extra[2:]) or "(plain)"
        lines.append(f"| {data} | `{options}` | {len(seeds)} | "
                     + " | ".join(mean_spread([r[k] for r in results], standard_error=True)
                                  for k in ("modes", "high_quality", "reverse_kl"))
                     + f" | {worst['modes']:.0f}, {worst['high_quality']:.1f} |")
    return lines + ["", FINDINGS, ""]


# what the table said when this section was written (2 shared cores, seeds as in the table)
FINDINGS = (
    "What the table says. Mode coverage came from the R1 penalty on D's real points: `--r1 0.5` alone found all 8 "
    "ring modes on every seed and 21.7 of 25 grid modes (plain 19.8), but at the toy's defaults its samples are "
    "spread (15% / 5% high quality); `--pack 2` with EMA and linear decay also reached 23.7 grid modes, at 7%. "
    "Precision came from averaging and annealing G and from G's shape: `--ema 0.999` (ring 22% -> 63%) and a "
    "learning rate decaying to 0 (`--lr-schedule linear` 64%, cosine 63%), with 3x the steps 81% on the ring and "
    "61% on the grid; four hidden layers of 64 instead of two of 128, a 2-D latent and 25,000 steps (the recipe "
    "without R1) reach 95% and 88%, but find only 7.7 ring and 17.3 grid modes. Together (`--recipe best`, 10 "
    "seeds) every seed found every mode of both mixtures: ring 8.0 / 94.0% high quality (worst seed 91.8%), grid "
    "25.0 / 86.0% (worst 82.3%), reverse KL 0.002 and 0.006 -- the issue's targets (7.9 / 90%, 24 / 85%), beside "
    "PacGAN2's published 7.9 / 95.6% and 23.8 / 91.3%. A recipe run takes about 85 s on one core of this machine "
    "(its other core busy), within the 2 minutes asked.\n\n"
    "How the recipe was found (one run each on seed 0 unless said; the options on top of the earlier recipe, EMA + "
    "linear decay + 15,000 steps; ring / grid high quality %): hidden layers 256,256 ring 82.5%; 128,128,128 ring "
    "86.5-88.5% (seeds 0-2) but grid 15 modes; 128x4 collapsed the ring to 1 mode; 64x4 ring 89.6-91.2% (one seed "
    "7 modes), grid 17 modes / 80%. On 64x4: `--pack 2` grid 21 modes / 19%; `--mbstd` grid 10 modes; batch 512 "
    "grid 15 modes / 86%; `--r1` 0.1 / 1 / 3 / 10: grid 25 modes each, 59 / 78 / 73 / 68%; with `--r1 1`: 25,000 "
    "steps 84.3% (seed 1: 84.2%), batch 128 with 35,000 steps 82.8%, `--ema 0.9995` 83.9%, 25 epochs of 1,000 steps"
    " (a finer decay) 82.6%, lr 5e-4 35%, `--loss hinge` 64%, latent 16 84.7%, latent 2 86.4%, `--r1 0.5` 85.9%; "
    "latent 2 with `--r1 0.5` 87.9% (ring 94.0%): the recipe. Also without gain on the ring: `--d-steps 2` 68%, "
    "`--loss lsgan` 78% (7 modes), `--loss hinge` 80%, batch 1024 78%, lr 5e-4 with 2x steps 81%.")


def sections_of(text):
    """{"## heading": its block of lines} of an earlier QUALITY.md (to keep the sections not run again)."""
    blocks, current = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line
            blocks[current] = []
        if current is not None:
            blocks[current].append(line)
    return blocks


def train_command(script, extra, epochs, seed, out, data_dir):
    cmd = [sys.executable, script, "--epochs", str(epochs), "--seed", str(seed), "--out", str(out), "--quiet",
           "--device", "cpu"] + extra
    if "toy" not in script:
        cmd += ["--data-dir", str(data_dir), "--split", "test", "--no-download"]
    if (out / "checkpoint.npz").is_file():
        cmd += ["--resume", str(out / "checkpoint.npz")]
    return cmd


def epochs_done(out):
    import tinygan
    try:
        return int(tinygan.load(out / "checkpoint.npz")["epoch"])
    except Exception:
        return 0


def run(cmd, log):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    started = time.perf_counter()
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log}")
    return time.perf_counter() - started


def train(job, data_dir):
    """Train one (row, seed) unless its checkpoint already holds the epochs; returns (job, seconds)."""
    name, (script, extra, epochs, _), seed = job
    out = RUNS / f"{slug(name)}_seed{seed}"
    if epochs_done(out) >= epochs:
        return job, 0.0
    out.parent.mkdir(parents=True, exist_ok=True)
    return job, run(train_command(script, extra, epochs, seed, out, data_dir), RUNS / f"{slug(name)}_seed{seed}.log")


def evaluate(name, seed, data_dir, n):
    out = RUNS / f"{slug(name)}_seed{seed}"
    cache = out / f"evaluate_n{n}.json"
    if cache.is_file() and cache.stat().st_mtime >= (out / "checkpoint.npz").stat().st_mtime:
        return json.loads(cache.read_text())
    cmd = [sys.executable, "-m", "tinygan.evaluate", str(out / "checkpoint.npz"), "--n", str(n), "--data-dir",
           str(data_dir), "--split", "test", "--json", "--seed", "0"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    cache.write_text(json.dumps(report))
    return report


def toy_result(name, seed):
    with open(RUNS / f"{slug(name)}_seed{seed}" / "modes.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    return {k: float(last[k]) for k in ("modes", "num_modes", "high_quality", "reverse_kl")}


def mean_spread(values, standard_error=False):
    """'mean +- sd' (or +- standard error) of a list of numbers."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return f"{m:.3g}"
    s = statistics.stdev(values)
    if standard_error:
        s /= math.sqrt(len(values))
    return f"{m:.3g} +- {s:.2g}"


def find(report, key):
    """The number at a dotted ``key`` of evaluate's JSON report ("generated.fld")."""
    node = report
    for part in key.split("."):
        node = node[part]
    return float(node)


def curve_section():
    """The MLP GAN curve run's eval.csv as a table and its eval.png, copied beside QUALITY.md."""
    (script, extra, epochs, (seed,)), = CURVE_ROWS.values()
    out = RUNS / f"{slug('MLP GAN curve')}_seed{seed}"
    with open(out / "eval.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    CURVE_PICTURE.parent.mkdir(parents=True, exist_ok=True)
    CURVE_PICTURE.write_bytes((out / "eval.png").read_bytes())
    lines = ["### More training of the same run lowers FLD", "",
             f"`python {script} {' '.join(extra)} --epochs {epochs} --split test --seed {seed}`: every 5 epochs, "
             "2,000 samples against 5,000 real test images (`--eval-every`, `eval.csv`; the dashed lines in the "
             "picture are the real images' floor).", "",
             "| epoch | FLD | score | digits | KL | precision | recall |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['epoch']} | {float(r['fld']):.4g} | {float(r['classifier_score']):.3g} | {r['digits']} | "
                     f"{float(r['kl']):.3g} | {float(r['precision']):.3g} | {float(r['recall']):.3g} |")
    return lines + ["", f"![FLD, classifier score, digits, precision and recall over training]"
                        f"(images/{CURVE_PICTURE.name})", ""]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "mnist"),
                   help="folder with the MNIST 10k test split (default: ../shared/data/mnist)")
    p.add_argument("--only", choices=("mnist", "toy", "remedies"), default=None,
                   help="train and report one group of rows (the other sections of QUALITY.md are kept)")
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once, each with one BLAS thread")
    p.add_argument("--n", type=int, default=10000, help="samples per MNIST evaluation")
    args = p.parse_args(argv)

    groups = {"mnist": {**MNIST_ROWS, **CURVE_ROWS}, "toy": TOY_ROWS, "remedies": remedy_rows()}
    wanted = [args.only] if args.only else ["toy", "mnist", "remedies"]
    jobs = [(name, row, seed) for g in wanted for name, row in groups[g].items() for seed in row[3]]
    jobs.sort(key=lambda j: -j[1][2] * (10 if "dcgan" in j[1][0] else 1))      # longest first
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for job, seconds in pool.map(lambda j: train(j, args.data_dir), jobs):
            print(f"trained {job[0]} seed {job[2]} ({seconds:.0f} s)", flush=True)

    from tinygan.app import judge
    kept = sections_of(QUALITY.read_text()) if QUALITY.is_file() else {}
    machine = platform.processor() or platform.machine()
    lines = ["# What tinygan's GANs make, measured", "",
             f"Written by `python benchmarks/quality.py` on {datetime.date.today()} ({machine}, "
             f"{os.cpu_count()} cores; {args.jobs} runs at once, one BLAS thread each; a DCGAN run takes 4-6 "
             "minutes that way, an MLP GAN run 2-3, a toy run 15 s). Every run trains on the CPU with the examples' "
             "defaults; the 60k train split is not available offline, so the MNIST rows train on the 10k test "
             "split.", ""]
    mnist_heading = "## MNIST (10k test split), judged by the shipped LeNet-5"
    toy_heading = "## 2-D mixtures, beside PacGAN's Table 1"
    if "mnist" not in wanted:
        lines += kept.get(mnist_heading, [])
    if "mnist" in wanted:
        lines += [mnist_heading, "",
                  f"The judge (`tinygan/app/judge.py`) reaches {judge.HOLDOUT_ACCURACY:.2%} on the last 2,000 test "
                  "images, trained on the first 8,000. Each number: `python -m tinygan.evaluate CHECKPOINT "
                  f"--n {args.n} --split test --json`, mean +- standard deviation over the seeds. FLD: Frechet "
                  "distance of the judge's 84 penultimate features (lower is better); score: the classifier "
                  "score, exp E KL(p(y|x) || p(y)) (10 at best); digits: digits holding >= 1% of samples; KL: "
                  "of the digit histogram to the real one; precision/recall: Kynkaanniemi et al. (k = 3). The "
                  "conditional rows draw the digits 0-9 in turn, so their coverage and KL are good by "
                  "construction; their FLD, score and recall are not. Precision and recall compare features by "
                  "direction (rows scaled to length 1): on the raw features uniform noise scored precision 0.77, "
                  "as high as real digits (0.79); by direction noise scores 0.35 against a floor of 0.91.", "",
                  "| recipe | epochs | seeds | FLD | score | digits | KL | precision | recall | command |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        floor = None
        for name, (script, extra, epochs, seeds) in MNIST_ROWS.items():
            reports = [evaluate(name, s, args.data_dir, args.n) for s in seeds]
            floor = floor or reports[0]
            cells = [mean_spread([find(r, f"generated.{key}") for r in reports]) for key in METRIC_KEYS]
            command = f"`python {script} {' '.join(extra + ['--epochs', str(epochs)])} --split test --seed S`"
            lines.append(f"| {name} | {epochs} | {len(seeds)} | " + " | ".join(cells) + f" | {command} |")
        floor_cells = [f"{find(floor, f'real_floor.{key}'):.3g}" for key in METRIC_KEYS]
        lines += ["| real vs real (the floor: held-out real images scored like the samples) | - | - | " + " | ".join(floor_cells)
                  + " | `python -m tinygan.evaluate ...` |", ""]
        lines += curve_section()
    if "toy" not in wanted:
        lines += kept.get(toy_heading, [])
    if "toy" in wanted:
        lines += [toy_heading, "",
                  "`python examples/toy_2d_gan.py --dataset DATASET --seed S` (10 epochs of 500 steps, the "
                  "defaults); the last epoch's modes.csv line (2,500 samples): modes captured, % of samples "
                  "within 3 std of a mode, reverse KL of the mode histogram; mean +- standard error over 10 "
                  "seeds. PacGAN's rows are its published numbers for its own architecture and training, "
                  "shown for scale, not as a like-for-like comparison.", "",
                  "| data | run | modes | high quality % | reverse KL |", "|---|---|---|---|---|"]
        for name, (_, _, _, seeds) in TOY_ROWS.items():
            results = [toy_result(name, s) for s in seeds]
            lines.append(f"| {name} | tinygan GAN ({len(seeds)} seeds) | "
                         + " | ".join(mean_spread([r[k] for r in results], standard_error=True)
                                      for k in ("modes", "high_quality", "reverse_kl")) + " |")
            for run_name, (modes, hq, kl) in PACGAN[name].items():
                lines.append(f"| {name} | PacGAN Table 1: {run_name} | {modes} | {hq} | {kl} |")
        lines.append("")
    lines += remedies_section() if "remedies" in wanted else kept.get(REMEDIES_HEADING, [])
    lines += kept.get(MNIST_REMEDIES_HEADING, [])
    from tinygan.fileio import write_atomically
    text = "\n".join(lines) + "\n"
    write_atomically(QUALITY, lambda tmp: pathlib.Path(tmp).write_text(text))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
