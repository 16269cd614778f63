"""The examples' training loop and what it writes after every epoch.

``train(arch, args, prog, state)`` runs (or resumes) one run as the options say:

    the config (from the options, or the checkpoint's) -> checks -> the device -> the data, G, D and their
    optimizers (``Run``; loaded from --resume) -> for each epoch: train steps (tinygan.app.gan.GAN.train_step),
    then the sample picture, metrics.csv, the loss curves, the GIF (and modes.csv, eval.csv) and the checkpoint.

Each epoch reseeds from (--seed, epoch), so a run resumed from a checkpoint trains bit-identically to one that
never stopped (on the CPU). The checkpoint is the last file an epoch writes; under --overwrite the first one
swaps the new run's files in for the earlier run's (tinygan/app/run_folder.py). ``state`` (a RunState) always
says which checkpoint is intact, for the line a stopped run prints.
"""
import pathlib
import shutil
import sys
import time

import numpy as np

import tinygan
from tinygan.core import array_backend as backend
from tinygan.app import data, models, plotting, toy
from tinygan.app.checkpoint import CHECKPOINT_NAME, load_checkpoint, load_gan_state, save_checkpoint
from tinygan.app.errors import CLIError, check
from tinygan.app.factories import load_batches, make_gan, make_schedulers, resolve_device
from tinygan.app.gan import MetricsLog
from tinygan.app.options import (DEFAULTS, EVAL_REAL, EVAL_SAMPLES, check_config, config_from_args,
                                 merge_resumed_config)
from tinygan.app.run_folder import (SAMPLE_PATTERNS, RunState, check_out, ctrl_c_held, kept_run, replace_run,
                                    stage_run)
from tinygan.core import Tensor, no_grad

EVAL_COLUMNS = ("epoch", "step", "fld", "classifier_score", "digits", "kl", "precision", "recall")   # eval.csv
SCHEDULER_KEYS = ("sched_g", "sched_d")         # the checkpoint's keys for G's and D's lr schedulers


# ==================================================================================================
# The run
# ==================================================================================================
def train(arch, args, prog, state=None):
    """Run (or resume) training as the options say; returns the output folder. ``state`` (a RunState) is
    kept up to date with the newest checkpoint written."""
    state = state if state is not None else RunState()
    epochs = state.epochs = args.epochs or DEFAULTS[arch]["epochs"]
    ckpt, config = run_config(arch, args, prog, state)
    out = state.out = pathlib.Path(args.out) if args.out else (
        pathlib.Path(args.resume).parent if ckpt is not None else pathlib.Path("runs") / arch)
    if ckpt is not None and ckpt["epoch"] >= epochs:
        if not args.quiet:
            print(f"{args.resume} has already trained {ckpt['epoch']} epochs (--epochs {epochs}): nothing to do")
        return out
    device = check_run(config, args, epochs, out, ckpt, state)
    run = Run(config, args, device, ckpt)
    out.mkdir(parents=True, exist_ok=True)
    # --overwrite into a folder holding a run: this run writes into a hidden folder there until its first
    # checkpoint, and only then do the earlier run's files make way for its own (replace_run); a run that
    # stops before that removes its folder and leaves the earlier run as it was
    staging = stage_run(out) if state.kept is not None else None
    run.work = staging or out
    if not args.quiet:
        print(opening_line(prog, run, out, staging is not None))
    show_bar = not args.quiet and sys.stderr.isatty()
    try:
        for epoch in range(run.start_epoch + 1, epochs + 1):
            state.epoch = epoch
            images, seconds = run.train_epoch(epoch, epochs, show_bar)
            modes, evaluated = run.end_epoch(epoch, epochs)
            with ctrl_c_held():                     # the files and what the Ctrl-C line says change together
                if staging is not None:             # this run's first checkpoint: now it replaces the old run
                    replace_run(out, staging)
                    staging, run.work, state.kept = None, out, None
                state.checkpoint, state.saved_epoch = out / CHECKPOINT_NAME, epoch
            if not args.quiet:
                print(run.epoch_line(epoch, epochs, images / max(seconds, 1e-9), modes, evaluated), flush=True)
        if not args.quiet:
            run.print_done(out)
    finally:
        if staging is not None:                     # stopped before its first checkpoint: the old run stays
            shutil.rmtree(staging, ignore_errors=True)
    return out


def run_config(arch, args, prog, state):
    """(the --resume checkpoint or None, the run's config): the checkpoint's, checked against the options given,
    or a new one from the options."""
    state.checkpoint = pathlib.Path(args.resume) if args.resume else None
    ckpt = load_checkpoint(args.resume) if args.resume else None
    if ckpt is None:
        return None, config_from_args(arch, args)
    state.saved_epoch = int(ckpt["epoch"])
    config = ckpt["config"]
    if config.get("arch") != arch:
        raise CLIError(f"{args.resume} holds a {config.get('arch')!r} model; this example "
                       f"trains {arch!r} models", 2)
    return ckpt, merge_resumed_config(config, args, prog)


def check_run(config, args, epochs, out, ckpt, state):
    """What must hold before anything is built: the config's own checks, an --out this run may write into,
    and the device (returned; "auto" says which it picked)."""
    check_config(config, args, epochs, resumed=ckpt is not None)
    check_out(out, args, ckpt)
    state.kept = kept_run(out) if args.overwrite else None     # untouched until this run's first checkpoint
    device = resolve_device(args.device, args.quiet)
    check(not args.cuda_graph or device == "gpu", "--cuda-graph needs --device gpu")
    return device


class Run:
    """A run being trained: its batches, the GAN with its lr schedulers, the metrics log, the rows of modes.csv
    (toy) and eval.csv (--eval-every), the steps done, and ``work``, the folder its files go to now (a hidden
    one in --out under --overwrite until its first checkpoint, then --out)."""

    def __init__(self, config, args, device, ckpt=None):
        self.config, self.args, self.device = config, args, device
        tinygan.manual_seed(config["seed"])            # weight initialisation, then shuffles and noise
        self.batches = load_batches(config, args, device)
        self.gan = make_gan(config, device, cuda_graph=args.cuda_graph)
        self.log = MetricsLog(args.log_every or (50 if device == "gpu" else 1), self.gan.metric_names)
        self.evaluator = Evaluator(config, args, device) if getattr(args, "eval_every", None) else None
        self.start_epoch, self.step, self.toy_rows, self.eval_rows = 0, 0, [], []
        self.schedulers = self._resume(ckpt, args.resume) if ckpt is not None else make_schedulers(config, self.gan)
        self.fixed = fixed_inputs(config, device)
        self.per_epoch = steps_per_epoch(config, self.batches, args.limit_batches)
        self.work = None

    def _resume(self, ckpt, path):
        """Load the checkpoint's weights, optimizer states, schedulers and history; returns the schedulers."""
        try:
            load_gan_state(self.gan, ckpt)
            schedulers = make_schedulers(self.config, self.gan)   # after the optimizers: their lr is the saved one
            for scheduler, key in zip(schedulers, SCHEDULER_KEYS):
                scheduler.load_state_dict(ckpt[key])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CLIError(f"checkpoint {path} does not match the model it describes: "
                           f"{' '.join(str(exc).split())}") from None
        self.start_epoch, self.step = int(ckpt["epoch"]), int(ckpt["step"])
        try:
            self.log.load_arrays(ckpt["history"])
        except KeyError as exc:
            raise CLIError(f"checkpoint {path}: its history has no column {exc}") from None
        self.toy_rows = [list(r) for r in np.asarray(ckpt.get("toy_history", np.zeros((0, 6)))).reshape(-1, 6)]
        self.eval_rows = [list(r) for r in np.asarray(ckpt.get("eval_history", np.zeros((0, 8)))).reshape(-1, 8)]
        return schedulers

    def train_epoch(self, epoch, epochs, show_bar):
        """The epoch's training steps (and --sample-every's pictures); returns (images trained on, seconds)."""
        gan, k, sample_every = self.gan, self.config["d_steps"], self.args.sample_every
        # Each epoch's shuffle and noise come from a seed derived from (--seed, epoch), so a resumed run
        # draws what an uninterrupted one would, on the GPU too (CuPy's generator state cannot be saved).
        tinygan.manual_seed(self.config["seed"] * 100_003 + epoch)
        gan.manual_seed(self.config["seed"] * 100_003 + epoch)    # the in-graph noise of --cuda-graph
        bar = _Progress(self.per_epoch, f"epoch {epoch}/{epochs}", show_bar)
        started, images = time.perf_counter(), 0
        batches = iter(self.batches)
        try:
            for _ in range(self.per_epoch):
                group = [next(batches) for _ in range(k)]
                metrics = gan.train_step(group)
                self.step += 1
                images += sum(real.shape[0] for real, _ in group)
                if self.log.add(self.step, epoch, metrics):
                    bar.update(self.log.latest(), images / max(time.perf_counter() - started, 1e-9))
                bar.advance()
                if sample_every and self.step % sample_every == 0:
                    _sample_picture(gan, self.config, self.fixed, self.work, f"step_{self.step:07d}")
            self.log.flush()
            if backend.check_device(self.device) == "gpu":
                backend.synchronize(self.device)
        finally:
            bar.close()
        return images, time.perf_counter() - started

    def end_epoch(self, epoch, epochs):
        """After the epoch's steps: the next learning rates, the epoch's picture, modes and scores, the tables,
        then the checkpoint, in ``work``. Returns (the toy's mode metrics or None, whether it was scored)."""
        config, gan = self.config, self.gan
        for scheduler in self.schedulers:                # --lr-schedule: the next epoch's learning rates
            scheduler.step()
        m = _sample_picture(gan, config, self.fixed, self.work, f"epoch_{epoch:04d}") \
            if not self.args.sample_every else None
        if config["arch"] == "toy":
            if m is None:
                m = toy.mode_metrics(generate(gan, *self.fixed), *toy.mixture(config["dataset"]))
            self.toy_rows.append([epoch, self.step, m["modes"], m["num_modes"], m["high_quality"], m["reverse_kl"]])
        evaluated = self.evaluator is not None and self.evaluator.due(epoch, epochs)
        if evaluated:
            self.eval_rows.append(self.evaluator.row(gan, epoch, self.step))
        history = _write_tables(self.work, self.log, self.toy_rows, gan, self.eval_rows,
                                self.evaluator and self.evaluator.floor)
        save_checkpoint(self.work / CHECKPOINT_NAME, gan, config, epoch, self.step, history,
                        {"toy_history": np.asarray(self.toy_rows, dtype=np.float64).reshape(-1, 6),
                         "eval_history": np.asarray(self.eval_rows, dtype=np.float64).reshape(-1, 8),
                         **{key: sch.state_dict() for key, sch in zip(SCHEDULER_KEYS, self.schedulers)}})
        return m, evaluated

    def epoch_line(self, epoch, epochs, images_per_s, m, evaluated):
        """The line printed after each epoch: losses, speed, the toy's modes, --eval-every's scores."""
        line = f"epoch {epoch}/{epochs}  step {self.step}  {_summary(self.log.latest(), images_per_s)}"
        if m is not None:
            line += (f"  modes {m['modes']}/{m['num_modes']}  high quality {m['high_quality']:.1f}%  "
                     f"reverse KL {m['reverse_kl']:.3f}")
        if evaluated:
            line += _short_eval(self.eval_rows[-1])
        return line

    def print_done(self, out):
        """The lines at the end of the run: what it wrote, and the last scores with their floor."""
        print(f"wrote {out}/: samples/, samples.gif, losses.png, "
              f"{'grad_norms.png, ' if self.gan.log_grad_norms else ''}metrics.csv"
              f"{', modes.csv' if self.toy_rows else ''}{', eval.csv, eval.png' if self.eval_rows else ''}, "
              f"{CHECKPOINT_NAME}")
        if self.evaluator is not None:
            print(f"eval: {self.evaluator.summary(self.eval_rows[-1])}")


def steps_per_epoch(config, batches, limit=None):
    """Generator steps per epoch: each takes --d-steps batches, at most --limit-batches of them; a bad option
    when the data cannot give one step."""
    k = config["d_steps"]
    per_epoch = len(batches) // k
    if limit:
        per_epoch = min(per_epoch, limit)
    if per_epoch < 1 and config["arch"] == "toy":
        raise CLIError(f"--steps-per-epoch {len(batches)} is fewer than --d-steps {k}: an epoch would have no "
                       f"generator step", 2)
    if per_epoch < 1:
        raise CLIError(f"--batch-size {config['batch_size']} with --d-steps {k} needs {config['batch_size'] * k} "
                       f"images per step, more than the {batches.num_samples} images of the {config['dataset']} "
                       f"{config['split']} split", 2)
    return per_epoch


def opening_line(prog, run, out, staged):
    """The run's first line: what trains, how big, where, and the remedies it uses."""
    config, gan = run.config, run.gan
    return (f"{prog}: {config['arch']} GAN, loss {config['loss']}, {models.num_parameters(gan.G):,} G and "
            f"{models.num_parameters(gan.D):,} D parameters, {run.per_epoch} steps per epoch, on {run.device}"
            f"{', logging gradient norms' if gan.log_grad_norms else ''}{remedies_line(config)}; writing to {out}"
            f"{' (the run there stays until this one saves its first checkpoint)' if staged else ''}")


def remedies_line(config):
    """"; R1 penalty 10, pack 2, ema 0.999" for the run's opening line ("" for a plain run)."""
    parts = [f"R1 penalty {config['r1']:g}" if config.get("r1") else "",
             f"pack {config['pack']}" if config.get("pack", 1) > 1 else "",
             ("mbstd" + (f" (groups of {config['mbstd_group']})" if config.get("mbstd_group") else ""))
             if config.get("mbstd") else "",
             "spectral norm" if config.get("spectral_norm") else "",
             f"DiffAugment {config['diffaugment']}" if config.get("diffaugment") else "",
             "feature matching" if config.get("g_loss", "default") != "default" else "",
             f"ema {config['ema']:g}" if config.get("ema") else "",
             (f"lr G {config['lr_g']:g}, D {config['lr_d']:g}" if config.get("lr_g", config["lr"]) != config.get(
                 "lr_d", config["lr"]) else ""),
             f"{config['lr_schedule']} lr schedule" if config.get("lr_schedule", "constant") != "constant" else ""]
    parts = [p for p in parts if p]
    recipe = config.get("recipe", "plain")
    return (f"; recipe {recipe}" if recipe != "plain" else "") + (f"; {', '.join(parts)}" if parts else "")


# ==================================================================================================
# Progress
# ==================================================================================================
class _Progress:
    """A tqdm bar per epoch (live losses and images/s) when stderr is a terminal; else nothing."""

    def __init__(self, total, desc, enabled):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True)

    def update(self, row, images_per_s):
        if self.bar is None:
            return
        if row is not None:
            self.bar.set_postfix_str(_summary(row, images_per_s), refresh=False)

    def advance(self, n=1):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _summary(row, images_per_s=None):
    text = (f"d_loss {row['d_loss']:.3f}  g_loss {row['g_loss']:.3f}  D(x) {row['d_real']:.3f}  "
            f"D(G(z)) {row['d_fake']:.3f}")
    if images_per_s:
        text += f"  {images_per_s:,.0f} img/s"
    return text


# ==================================================================================================
# Sample pictures
# ==================================================================================================
def fixed_inputs(config, device, n=None):
    """Noise (and labels) for the sample pictures, drawn from their own generator seeded by --seed: the same
    every epoch, and drawing them never disturbs the training's random stream."""
    if config["arch"] == "toy":
        n = n or toy.NUM_EVAL_SAMPLES
    else:
        n = n or (100 if config["num_classes"] else 64)
    rng = np.random.default_rng([config["seed"], 1])
    z = Tensor(rng.standard_normal((n, config["latent_dim"]), dtype=np.float32), device=device)
    labels = None
    if config["num_classes"]:
        labels = Tensor(np.arange(n, dtype=np.int64) % config["num_classes"], device=device)
    return z, labels


def generate(gan, z, labels=None):
    """The samples of G (or of G_ema when the run keeps one) for the given noise in eval mode (batch norm uses
    its running statistics), as NumPy."""
    G = gan.sampler
    was_training = G.training
    G.eval()
    try:
        with no_grad():
            return (G(z, labels) if gan.conditional else G(z)).numpy()
    finally:
        G.train(was_training)


def _sample_picture(gan, config, fixed, out, name):
    """Draw the fixed noise through G and save the picture (grid, or scatter for the toy problem)."""
    samples = generate(gan, *fixed)
    path = out / "samples" / f"{name}.png"
    if config["arch"] == "toy":
        modes, std = toy.mixture(config["dataset"])
        m = toy.mode_metrics(samples, modes, std)
        plotting.save_scatter(samples, modes, path, title=f"{name}: {m['modes']}/{m['num_modes']} modes, "
                                                          f"{m['high_quality']:.0f}% high quality")
        return m
    if config["num_classes"]:                      # fixed_inputs draws the classes in turn: one per column
        plotting.save_grid(samples, path, nrow=config["num_classes"],
                           column_labels=[str(c) for c in range(config["num_classes"])])
    else:
        plotting.save_grid(samples, path, nrow=8)
    return None


# ==================================================================================================
# --eval-every, and the tables
# ==================================================================================================
class Evaluator:
    """--eval-every: the judge, the real split cut into a reference half and held-out images (scored once)
    and fixed latent points (their own seeded generator: the training's random stream is not touched), set
    up before training; ``row(gan, epoch, step)`` scores G's samples as one eval.csv row."""

    def __init__(self, config, args, device):
        from tinygan.app import evaluate            # evaluate imports cli.py, which imports this module
        self.every, self.n, self.device = args.eval_every, args.eval_samples or EVAL_SAMPLES, device
        judge = evaluate.get_judge(device)
        try:
            images, labels = data.load_mnist(config.get("data_dir"), split=config["split"], dataset="mnist",
                                             download=False)
        except data.DatasetError as exc:
            raise CLIError(data.data_error_line(exc, args)) from None
        self.split = config["split"]
        self.reference = evaluate.Reference(judge, images, labels, seed=config["seed"], max_half=EVAL_REAL,
                                            name=f"the MNIST {config['split']} split")
        self.z, self.labels = evaluate.latent_inputs(config, self.n, np.random.default_rng([config["seed"], 2]))
        floor = self.reference.floor(self.n)
        self.floor = {"fld": floor["fld"], "classifier_score": floor["classifier_score"], "digits": floor["digits"],
                      "kl": floor["kl_to_real"], "precision": floor["precision"], "recall": floor["recall"]}

    def due(self, epoch, last):
        return epoch % self.every == 0 or epoch == last

    def row(self, gan, epoch, step, chunk=500):
        from tinygan.app import evaluate
        s = self.reference.score(evaluate.draw(gan.sampler, self.z, self.labels, self.device, chunk))
        return [epoch, step, s["fld"], s["classifier_score"], s["digits"], s["kl_to_real"], s["precision"],
                s["recall"]]

    def summary(self, row):
        """The last row's numbers, each with the real-data floor in brackets."""
        values = dict(zip(EVAL_COLUMNS, row))
        f = self.floor
        return (f"epoch {int(values['epoch'])} samples ({self.n:,} vs {self.reference.size:,} real MNIST {self.split} "
                f"images; real images' floor in brackets): FLD {values['fld']:.2f} ({f['fld']:.2f}), classifier "
                f"score {values['classifier_score']:.2f} ({f['classifier_score']:.2f}), digits "
                f"{int(values['digits'])}/10 ({f['digits']}/10), KL {values['kl']:.3f} ({f['kl']:.3f}), precision "
                f"{values['precision']:.3f} ({f['precision']:.3f}), recall {values['recall']:.3f} "
                f"({f['recall']:.3f})")


def _short_eval(row):
    values = dict(zip(EVAL_COLUMNS, row))
    return (f"  FLD {values['fld']:.2f}  digits {int(values['digits'])}/10  precision {values['precision']:.2f}  "
            f"recall {values['recall']:.2f}")


def _write_tables(out, log, toy_rows, gan, eval_rows=(), eval_floor=None):
    """metrics.csv and the loss (and gradient-norm) curves, modes.csv, eval.csv and its curves, and the GIF of
    the sample pictures, in ``out``; returns the metric history as arrays, for the checkpoint."""
    history = log.as_arrays()
    rows = [[int(r[0]), int(r[1])] + r[2:] for r in log.rows]
    plotting.write_csv(out / "metrics.csv", ["step", "epoch", *log.columns], rows)
    if len(rows):
        plotting.save_loss_curves(history, out / "losses.png")
        if gan.log_grad_norms:
            plotting.save_grad_norms(history, gan.grad_norm_labels(), out / "grad_norms.png")
    if toy_rows:
        plotting.write_csv(out / "modes.csv", ["epoch", "step", "modes", "num_modes", "high_quality", "reverse_kl"],
                           toy_rows)
    if len(eval_rows):
        rows = [[int(r[0]), int(r[1]), *r[2:4], int(r[4]), *r[5:]] for r in eval_rows]
        plotting.write_csv(out / "eval.csv", EVAL_COLUMNS, rows)
        columns = {name: [r[i] for r in eval_rows] for i, name in enumerate(EVAL_COLUMNS)}
        plotting.save_eval_curves(columns, out / "eval.png", floor=eval_floor)
    frames = sorted(p for pattern in SAMPLE_PATTERNS for p in (out / "samples").glob(pattern))
    plotting.save_gif(frames, out / "samples.gif")
    return history
