"""Time one full GAN training iteration (D step, then G step) in tinygan and, side by side, in PyTorch.

One iteration is tinygan.app.gan.GAN.train_step, what users run (the torch side mirrors it line by line):

    z = randn(N, 100);  fake = G(z)
    loss_D = bce_logits(D(real), 1) + bce_logits(D(fake.detach()), 0);  opt_D.zero_grad, backward, Adam step
    D frozen;  loss_G = bce_logits(D(fake), 1)  (non-saturating);        opt_G.zero_grad, backward, Adam step

Adam(lr=2e-4, betas=(0.5, 0.999)) for both nets. Configs: the MLP GAN at batch 64 and 256 and the DCGAN at
batch 64 (see benchmarks/models.py). Every timing runs in a fresh subprocess running one framework, as users
run it; with --compare-torch the tinygan and torch processes alternate in rounds (tinygan, torch, torch,
tinygan, ...) so machine noise hits both alike and the tinygan/PyTorch ratio comes from the same run
(--mode same-process alternates single repeats inside one process instead). Reported per framework: wall
ms/iter (median, IQR), images/s, CPU ms/iter, page faults/iter and peak memory (VmHWM of the process on the
CPU; the CuPy / torch pools on the GPU).

With ``--loop user`` the step is instead the loop a user writes in PyTorch's style (zero_grad, backward,
step; no GAN class, no keep_freed_memory(), no MALLOC_* variables), one text run by both frameworks
(``make_user_loop_step``): what tinygan's defaults give a user who knows nothing tinygan-specific.

    python benchmarks/bench_gan_step.py --device cpu --compare-torch            # table + RESULTS.md
    python benchmarks/bench_gan_step.py --loop user --compare-torch --threads 2  # the user's own loop
    python benchmarks/bench_gan_step.py --profile ops --config dcgan-64           # where the time goes
    python benchmarks/bench_gan_step.py --profile cprofile --config mlp-64

torch is imported only inside the worker functions, and only when it is importable.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _path in (REPO, HERE):  # run from a checkout without installing; models.py sits beside this file
    if _path not in sys.path:
        sys.path.insert(0, _path)

CONFIGS = {"mlp-64": ("mlp", 64), "mlp-256": ("mlp", 256), "dcgan-64": ("dcgan", 64)}
LR, BETAS = 2e-4, (0.5, 0.999)
NZ = 100
RESULTS = os.path.join(HERE, "RESULTS.md")
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# glibc: serve every allocation from the heap and never give freed memory back, so the big per-step arrays
# reuse mapped pages instead of page-faulting fresh ones (see RESULTS.md: ~20k faults per DCGAN step)
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}


# ==================================================================================================
# The training step, in each framework
# ==================================================================================================
def make_tinygan_step(model, batch, device, cuda_graph=False):
    """(step, sync, info): one full GAN iteration in tinygan on ``device``: tinygan.app.gan.GAN.train_step
    (with ``cuda_graph``, replayed as a CUDA graph: GPU only)."""
    import tinygan
    import tinygan.optim
    from models import image_shape, tinygan_models

    tinygan.backend.keep_freed_memory()  # as the training CLI does (examples/*): no page faults per step
    tinygan.manual_seed(0)
    G, D = tinygan_models(model)
    G, D = G.to(device), D.to(device)
    opt_G = tinygan.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_D = tinygan.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    real = tinygan.rand(batch, *image_shape(model), device=device) * 2 - 1   # a fixed batch in [-1, 1)
    try:
        from tinygan.app.gan import GAN
    except ImportError:
        GAN = None

    if GAN is not None:
        gan = GAN(G, D, opt_G, opt_D, latent_dim=NZ, loss="nonsaturating", device=device, cuda_graph=cuda_graph)
        batches = [(real, None)]

        def step():
            m = gan.train_step(batches)
            return m["d_loss"], m["g_loss"]
        source = "tinygan.app.gan.GAN.train_step (what users run)" + (", as a CUDA graph" if cuda_graph else "")
    else:
        # ---- REFERENCE STEP written in this script: used only where tinygan.app.gan is missing ----
        import tinygan.functional as F

        def step():
            z = tinygan.randn(batch, NZ, device=device)
            fake = G(z)
            real_out, fake_out = D(real), D(fake.detach())
            loss_D = (F.binary_cross_entropy_with_logits(real_out, tinygan.ones(batch, 1, device=device))
                      + F.binary_cross_entropy_with_logits(fake_out, tinygan.zeros(batch, 1, device=device)))
            opt_D.zero_grad()
            loss_D.backward()
            opt_D.step()
            for p in D.parameters():
                p.requires_grad = False
            loss_G = F.binary_cross_entropy_with_logits(D(fake), tinygan.ones(batch, 1, device=device))
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
            for p in D.parameters():
                p.requires_grad = True
            return loss_D, loss_G
        source = "REFERENCE step in bench_gan_step.py (tinygan.app.gan missing)"

    def sync():
        tinygan.synchronize(device)

    n_params = sum(p.array.size for p in list(G.parameters()) + list(D.parameters()))
    return step, sync, {"step": source, "params": int(n_params), "opt": (opt_G, opt_D)}


def make_torch_step(model, batch, device):
    """(step, sync, info): the same iteration in PyTorch, mirroring tinygan.app.gan.GAN.train_step.

    As there: one G forward per iteration (D trains on it detached, G's step reuses it), D's parameters
    frozen (requires_grad False) during G's step, D(x) and D(G(z)) reported as sigmoid means under no_grad.
    Default torch.optim.Adam (on the CPU its per-parameter loop, as users run it).
    """
    import torch
    import torch.nn.functional as TF
    from models import image_shape, torch_models

    torch.manual_seed(0)
    dev = "cuda" if device == "gpu" else "cpu"
    G, D = torch_models(model)
    G, D = G.to(dev), D.to(dev)
    opt_G = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_D = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    real = torch.rand(batch, *image_shape(model), device=dev) * 2 - 1
    bce = TF.binary_cross_entropy_with_logits

    def step():
        z = torch.randn(batch, NZ, device=dev)
        fake = G(z)
        real_out, fake_out = D(real), D(fake.detach())
        loss_D = (bce(real_out, torch.full(real_out.shape, 1.0, device=dev))
                  + bce(fake_out, torch.zeros(fake_out.shape, device=dev)))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        with torch.no_grad():
            torch.sigmoid(real_out).mean(), torch.sigmoid(fake_out).mean()   # the metrics GAN reports
        for p in D.parameters():
            p.requires_grad_(False)
        loss_G = bce(D(fake), torch.ones(batch, 1, device=dev))
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        for p in D.parameters():
            p.requires_grad_(True)
        return loss_D.detach(), loss_G.detach()

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    n_params = sum(p.numel() for p in list(G.parameters()) + list(D.parameters()))
    return step, sync, {"step": "torch, mirroring GAN.train_step", "params": int(n_params)}


MAKERS = {"tinygan": make_tinygan_step, "torch": make_torch_step}


def make_user_loop_step(framework, model, batch, device):
    """(step, sync, info): the GAN loop as a user writes it, ONE text run by both frameworks (``--loop user``).

    PyTorch's tutorial style and nothing tinygan-specific: no tinygan.app.gan.GAN, no
    keep_freed_memory(), no MALLOC_* environment (the workers drop them); ``lib`` is ``tinygan`` or
    ``torch`` and every line below is the same for both, so the two loops cannot drift apart. As in the
    PyTorch DCGAN tutorial, D is not frozen during G's step (its gradients are computed and zeroed later).
    """
    if framework == "torch":
        import torch as lib
        import torch.nn.functional as F
    else:
        import tinygan as lib
        import tinygan.nn.functional as F
    import models

    dev = "cuda" if device == "gpu" else "cpu"     # tinygan accepts PyTorch's "cuda" too
    lib.manual_seed(0)
    G, D = models.BUILDERS[model](lib.nn)
    G, D = G.to(dev), D.to(dev)
    opt_G = lib.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_D = lib.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    real = lib.rand(batch, *models.image_shape(model), device=dev) * 2 - 1   # a fixed batch in [-1, 1)
    bce = F.binary_cross_entropy_with_logits

    def step():
        z = lib.randn(batch, NZ, device=dev)
        fake = G(z)
        opt_D.zero_grad()
        loss_D = (bce(D(real), lib.ones(batch, 1, device=dev))
                  + bce(D(fake.detach()), lib.zeros(batch, 1, device=dev)))
        loss_D.backward()
        opt_D.step()
        opt_G.zero_grad()
        loss_G = bce(D(fake), lib.ones(batch, 1, device=dev))
        loss_G.backward()
        opt_G.step()
        return loss_D.detach(), loss_G.detach()

    def sync():
        if device == "gpu":
            lib.cuda.synchronize() if framework == "torch" else lib.synchronize("gpu")

    n_params = sum(p.numel() if framework == "torch" else p.array.size
                   for p in list(G.parameters()) + list(D.parameters()))
    return step, sync, {"step": f"{framework}: the user loop (make_user_loop_step, one text for both)",
                        "params": int(n_params), "opt": (opt_G, opt_D)}


def make_step(framework, model, batch, device, loop="gan"):
    """The step of ``framework`` for ``--loop gan`` (GAN.train_step and its torch mirror) or ``--loop user``."""
    if loop == "user":
        return make_user_loop_step(framework, model, batch, device)
    if loop == "graph" and framework == "tinygan":       # against torch's eager mirror of GAN.train_step
        return make_tinygan_step(model, batch, device, cuda_graph=True)
    return MAKERS[framework](model, batch, device)


def _loss_value(loss):
    return float(loss.item() if hasattr(loss, "item") else loss)


# ==================================================================================================
# Workers: each runs in its own subprocess and prints one JSON line
# ==================================================================================================
def _set_torch_threads(threads):
    import torch
    torch.set_num_threads(threads)


def worker_timing(job):
    """Warm up each framework, then interleave timed repeats; return per-repeat ms/iter for each."""
    model, batch = CONFIGS[job["config"]]
    frameworks = job["frameworks"]
    if "torch" in frameworks:
        _set_torch_threads(job["threads"])
    steps = {fw: make_step(fw, model, batch, job["device"], job.get("loop", "gan")) for fw in frameworks}
    import resource
    rss_base = _peak_rss_mib()

    inner = {}
    for fw, (step, sync, _) in steps.items():
        for _ in range(job["warmup"]):
            step()
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        one = time.perf_counter() - t0
        inner[fw] = max(1, math.ceil(job["min_time"] / max(one, 1e-6)))  # iterations per timed repeat

    times = {fw: [] for fw in frameworks}
    cpu = {fw: [] for fw in frameworks}        # process CPU time (user + sys, all threads) per iteration
    faults = {fw: 0 for fw in frameworks}      # minor page faults: fresh memory pages the kernel had to map
    for r in range(job["repeats"]):
        order = frameworks if r % 2 == 0 else frameworks[::-1]     # ABBA: cancels slow drifts
        for fw in order:
            step, sync, _ = steps[fw]
            sync()
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            c0 = time.process_time()
            t0 = time.perf_counter()
            for _ in range(inner[fw]):
                losses = step()
            sync()
            times[fw].append((time.perf_counter() - t0) / inner[fw] * 1e3)
            cpu[fw].append((time.process_time() - c0) / inner[fw] * 1e3)
            faults[fw] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    final = {}
    for fw, (step, sync, info) in steps.items():
        losses = step()
        final[fw] = {"loss_D": _loss_value(losses[0]), "loss_G": _loss_value(losses[1]),
                     "step": info["step"], "params": info["params"], "inner": inner[fw],
                     "faults_per_iter": faults[fw] / (inner[fw] * job["repeats"])}
    mem = {"rss_base_mib": rss_base, "rss_peak_mib": _peak_rss_mib(),
           "gpu_peak_mib": _gpu_peak(frameworks[0], job["device"])} if len(frameworks) == 1 else None
    return {"times_ms": times, "cpu_ms": cpu, "final": final, "env": _runtime_env(frameworks), "mem": mem}


def _peak_rss_mib():
    """This process's peak resident memory in MiB: VmHWM (not inherited from the parent, unlike ru_maxrss,
    which a child reports as at least its parent's peak at fork time); ru_maxrss where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024                       # kB -> MiB
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024          # KiB on Linux


def _gpu_peak(fw, device):
    if device != "gpu":
        return None
    if fw == "torch":
        import torch
        return torch.cuda.max_memory_allocated() / 2**20
    from tinygan import backend
    return backend.require_gpu().get_default_memory_pool().total_bytes() / 2**20   # pool high water


def worker_memory(job):
    """Peak memory of one framework alone: baseline after setup, peak after warm-up + a few steps."""
    model, batch = CONFIGS[job["config"]]
    fw, device = job["frameworks"][0], job["device"]
    if fw == "torch":
        _set_torch_threads(job["threads"])
    step, sync, _ = make_step(fw, model, batch, device, job.get("loop", "gan"))
    sync()
    base = _peak_rss_mib()
    gpu_peak = None
    if device == "gpu" and fw == "torch":
        import torch
        torch.cuda.reset_peak_memory_stats()
    for _ in range(job["warmup"] + 3):
        step()
    sync()
    peak = _peak_rss_mib()
    if device == "gpu":
        if fw == "torch":
            import torch
            gpu_peak = torch.cuda.max_memory_allocated() / 2**20
        else:
            from tinygan import backend
            gpu_peak = backend.require_gpu().get_default_memory_pool().total_bytes() / 2**20  # pool high water
    return {"rss_base_mib": base, "rss_peak_mib": peak, "gpu_peak_mib": gpu_peak}


def _runtime_env(frameworks):
    """Thread counts and BLAS as the worker saw them."""
    env = {"blas": _blas_info()}
    if "torch" in frameworks:
        import torch
        env["torch_threads"] = torch.get_num_threads()
    return env


def _blas_info():
    try:
        import numpy  # noqa: F401
        from threadpoolctl import threadpool_info
        info = [i for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
        info = info or [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            i = info[0]
            return f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}), {i.get('num_threads')} threads"
    except Exception:
        pass
    try:
        import numpy as np
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (threads unknown: pip install threadpoolctl)"
    except Exception:
        return "unknown"


# ==================================================================================================
# Orchestration: one subprocess per config, results table, RESULTS.md
# ==================================================================================================
def _child_env(args):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    if args.unset_openblas_env:
        for var in OPENBLAS_VARS:
            env.pop(var, None)
    if args.malloc_tuned:
        env.update(MALLOC_ENV)
    if args.loop == "user":      # as a user runs it: no allocator tuning from the environment
        for var in [v for v in env if v.startswith("MALLOC_")]:
            env.pop(var)
    env["PYTHONPATH"] = os.pathsep.join([REPO, HERE, env.get("PYTHONPATH", "")])
    return env


def run_worker(kind, job, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--_worker", kind, json.dumps(job)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(args))
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{kind} worker for {job['config']} ({','.join(job['frameworks'])}) failed:\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 4:
        return statistics.median(xs), xs[0], xs[-1]
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q2, q1, q3


def machine_info(args, device, torch_version):
    """One line per fact about where the numbers came from."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    import numpy as np
    lines = [
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- CPU: {cpu}; {os.cpu_count()} logical cores (affinity {len(os.sched_getaffinity(0))}); "
        f"benchmark threads: {args.threads} (numpy BLAS via OPENBLAS/OMP/MKL_NUM_THREADS, torch.set_num_threads)",
        f"- Python {platform.python_version()}, numpy {np.__version__}, BLAS: {args.blas}",
        f"- torch: {torch_version or 'not installed (no comparison)'}",
    ]
    openblas = {v: os.environ.get(v) for v in OPENBLAS_VARS}
    if args.unset_openblas_env:
        lines.append(f"- {' and '.join(OPENBLAS_VARS)} unset for this run only (were {openblas})")
    else:
        lines.append(f"- OpenBLAS env as found: {openblas}")
    if device == "gpu":
        try:
            from tinygan import backend
            cp = backend.require_gpu()
            name = cp.cuda.runtime.getDeviceProperties(0)["name"]
            lines.append(f"- GPU: {name.decode() if isinstance(name, bytes) else name}, CuPy {cp.__version__}")
        except Exception as exc:
            lines.append(f"- GPU: unknown ({exc})")
    lines.append(f"- warm-up {args.warmup} iterations, {args.repeats} repeats of >= {args.min_time:g} s each; "
                 "median and interquartile range (IQR) of ms/iter")
    return lines


def format_table(rows, compare):
    head = ["config", "tinygan ms/iter (IQR)", "img/s", "CPU ms/iter", "page faults/iter", "peak MiB"]
    if compare:
        head += ["torch ms/iter (IQR)", "img/s", "CPU ms/iter", "page faults/iter", "peak MiB",
                 "tinygan/torch wall", "tinygan/torch CPU"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["config"]]
        for fw in ["tinygan"] + (["torch"] if compare else []):
            s = r[fw]
            cells += [f"{s['median']:.2f} ({s['q1']:.2f}-{s['q3']:.2f})", f"{s['img_s']:.0f}", f"{s['cpu']:.2f}",
                      f"{s['faults']:.0f}", s["mem"]]
        if compare:
            cells.append(f"**{r['ratio']:.2f}** (paired {r['ratio_q1']:.2f}-{r['ratio_q3']:.2f})")
            cells.append(f"{r['cpu_ratio']:.2f}")
        out.append("| " + " | ".join(cells) + " |")
    return out


def _mem_cell(mem, device):
    if mem is None:
        return "-"
    if device == "gpu" and mem.get("gpu_peak_mib") is not None:
        return f"{mem['gpu_peak_mib']:.0f} (GPU)"
    return f"{mem['rss_peak_mib']:.0f} (+{mem['rss_peak_mib'] - mem['rss_base_mib']:.0f})"


def _time_config(job, args):
    """Timings of every framework for one config: (merged worker result, {framework: memory or None}).

    mode "separate" (default): each framework in its own processes, as users run it; the processes alternate
    in rounds (tinygan, torch, torch, tinygan, ...), each doing a share of the repeats. mode "same-process":
    one process builds both and alternates single repeats; finer interleaving, but the frameworks then
    share one allocator (torch's presence changes glibc's malloc thresholds and hides tinygan's page faults).
    """
    frameworks = job["frameworks"]
    if args.mode == "same-process" or len(frameworks) == 1 and args.rounds == 1:
        res = run_worker("timing", job, args)
        if res["mem"] is not None:
            return res, {frameworks[0]: res["mem"]}
        mems = {fw: None if args.no_memory else run_worker("memory", dict(job, frameworks=[fw]), args)
                for fw in frameworks}
        return res, mems
    share = max(1, math.ceil(job["repeats"] / args.rounds))
    merged = {"times_ms": {fw: [] for fw in frameworks}, "cpu_ms": {fw: [] for fw in frameworks}, "final": {}}
    faults, mems = {fw: [] for fw in frameworks}, {}
    for r in range(args.rounds):
        for fw in (frameworks if r % 2 == 0 else frameworks[::-1]):
            res = run_worker("timing", dict(job, frameworks=[fw], repeats=share), args)
            merged["times_ms"][fw] += res["times_ms"][fw]
            merged["cpu_ms"][fw] += res["cpu_ms"][fw]
            faults[fw].append(res["final"][fw]["faults_per_iter"])
            merged["final"][fw] = res["final"][fw]
            merged["env"] = res["env"] if fw == "tinygan" else merged.get("env", res["env"])
            old = mems.get(fw)
            if old is None or res["mem"]["rss_peak_mib"] > old["rss_peak_mib"]:
                mems[fw] = res["mem"]
    for fw in frameworks:
        merged["final"][fw]["faults_per_iter"] = statistics.median(faults[fw])
    return merged, mems


def run_device(device, args, torch_version):
    compare = args.compare_torch and torch_version is not None
    frameworks = ["tinygan", "torch"] if compare else ["tinygan"]
    rows, notes = [], set()
    for config in args.configs:
        job = {"config": config, "device": device, "frameworks": frameworks, "threads": args.threads,
               "warmup": args.warmup, "repeats": args.repeats, "min_time": args.min_time, "loop": args.loop}
        print(f"[{device}] {config}: timing {' vs '.join(frameworks)} ({args.mode}) ...", flush=True)
        res, mems = _time_config(job, args)
        row = {"config": config}
        batch = CONFIGS[config][1]
        for fw in frameworks:
            med, q1, q3 = quartiles(res["times_ms"][fw])
            row[fw] = {"median": med, "q1": q1, "q3": q3, "img_s": batch / med * 1e3, "mem": _mem_cell(mems[fw], device),
                       "cpu": statistics.median(res["cpu_ms"][fw]),
                       "faults": res["final"][fw]["faults_per_iter"]}
            notes.add(f"{fw} step: {res['final'][fw]['step']}")
            print(f"    {fw:8s} {med:8.2f} ms/iter (IQR {q1:.2f}-{q3:.2f})  {batch / med * 1e3:8.0f} img/s  "
                  f"CPU {row[fw]['cpu']:.2f} ms/iter  {row[fw]['faults']:.0f} page faults/iter  "
                  f"peak {row[fw]['mem']} MiB  loss_D {res['final'][fw]['loss_D']:.3f}  "
                  f"params {res['final'][fw]['params']}", flush=True)
        if compare:
            paired = [a / b for a, b in zip(res["times_ms"]["tinygan"], res["times_ms"]["torch"])]
            _, rq1, rq3 = quartiles(paired)
            row.update(ratio=row["tinygan"]["median"] / row["torch"]["median"], ratio_q1=rq1, ratio_q3=rq3,
                       cpu_ratio=row["tinygan"]["cpu"] / row["torch"]["cpu"])
            print(f"    tinygan/torch = {row['ratio']:.2f} (paired-repeat ratios IQR {rq1:.2f}-{rq3:.2f}); "
                  f"CPU time {row['cpu_ratio']:.2f}", flush=True)
        rows.append(row)
        args.blas = res["env"]["blas"]
    if args.compare_torch and torch_version is None:
        notes.add("torch is not installed: no comparison")
    return rows, sorted(notes), compare


def write_results(section, lines, path=RESULTS):
    """Replace this script's section for one device in RESULTS.md, keeping everything else."""
    begin, end = f"<!-- {section} begin -->", f"<!-- {section} end -->"
    block = "\n".join([begin] + lines + [end])
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def torch_version_or_none():
    """torch's version without importing it here (workers import it; the orchestrator stays small)."""
    import importlib.metadata
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown version"


# ==================================================================================================
# Profiling: cProfile, pyinstrument, or a per-op breakdown of tinygan's Functions
# ==================================================================================================
def _all_subclasses(cls):
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def _instrument_ops(stats, dtypes):
    """Wrap every Function's forward and backward to time them and to record the dtypes they produce."""
    from tinygan.tensor import Function

    def arrays_of(out):
        return out if isinstance(out, tuple) else (out,)

    def wrap(cls, name):
        orig = cls.__dict__[name]

        def timed(self, *args):
            t0 = time.perf_counter()
            out = orig(self, *args)
            dt = time.perf_counter() - t0
            key = (type(self).__name__, name)
            entry = stats.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += dt
            for a in arrays_of(out):
                dt_name = str(getattr(a, "dtype", None))
                if a is not None and dt_name not in ("float32", "bool", "None"):
                    dtypes.setdefault(key, set()).add(dt_name)
                for src in args:   # inputs that are not float32 (an upcast coming in)
                    if getattr(src, "dtype", None) is not None and str(src.dtype) == "float64":
                        dtypes.setdefault(key + ("input",), set()).add("float64")
            return out
        setattr(cls, name, timed)

    for cls in _all_subclasses(Function):
        for name in ("forward", "backward"):
            if name in cls.__dict__:
                wrap(cls, name)


def profile(args):
    model, batch = CONFIGS[args.config]
    if args.profile == "ops":
        stats, dtypes = {}, {}
        import tinygan.nn  # noqa: F401  (import every Function subclass before wrapping)
        import tinygan.functional  # noqa: F401
        try:
            import tinygan.app.gan  # noqa: F401
        except ImportError:
            pass
        _instrument_ops(stats, dtypes)
    step, sync, info = make_step("tinygan", model, batch, args.device, args.loop)
    for _ in range(args.warmup):
        step()
    sync()
    n = args.iters
    print(f"profiling {args.config} on {args.device}, {n} iterations, step = {info['step']}")

    if args.profile == "cprofile":
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            step()
        sync()
        prof.disable()
        st = pstats.Stats(prof).strip_dirs()
        st.sort_stats("tottime").print_stats(args.top)
        st.sort_stats("cumulative").print_stats(args.top)
        return
    if args.profile == "pyinstrument":
        from pyinstrument import Profiler
        prof = Profiler(interval=0.0005)
        prof.start()
        for _ in range(n):
            step()
        sync()
        prof.stop()
        print(prof.output_text(unicode=False, color=False, show_all=False))
        return

    # per-op breakdown: time in each Function's forward/backward, optimizer time, and what is left over
    opt_G, opt_D = info["opt"]
    opt_time = {"Adam.step": [0, 0.0], "Adam.zero_grad": [0, 0.0]}
    for opt in (opt_G, opt_D):
        for meth in ("step", "zero_grad"):
            orig = getattr(opt, meth)

            def timed(*a, _orig=orig, _key=f"Adam.{meth}", **k):
                t0 = time.perf_counter()
                r = _orig(*a, **k)
                opt_time[_key][0] += 1
                opt_time[_key][1] += time.perf_counter() - t0
                return r
            setattr(opt, meth, timed)
    stats.clear()
    dtypes.clear()
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    total = (time.perf_counter() - t0) / n * 1e3
    rows = [(f"{k[0]}.{k[1]}", c / n, s / n * 1e3) for k, (c, s) in stats.items()]
    rows += [(k, c / n, s / n * 1e3) for k, (c, s) in opt_time.items()]
    rows.sort(key=lambda r: -r[2])
    inside = sum(r[2] for r in rows)
    calls = sum(c for k, (c, s) in stats.items()) / n
    print(f"\n{'op':34s} {'calls/iter':>10s} {'ms/iter':>9s} {'% step':>7s}")
    for name, c, ms in rows:
        print(f"{name:34s} {c:10.1f} {ms:9.3f} {ms / total * 100:6.1f}%")
    print(f"{'-' * 64}\nstep total {total:.3f} ms/iter (instrumented); inside forward/backward/Adam {inside:.3f} ms")
    print(f"left over (graph bookkeeping, Module calls, backward walk, grad accumulation, wrappers): "
          f"{total - inside:.3f} ms = {(total - inside) / total * 100:.1f}%, "
          f"{(total - inside) / max(calls, 1) * 1e3:.1f} us per op call ({calls:.0f} forward+backward calls/iter)")
    if dtypes:
        print("\nNON-float32 arrays seen:")
        for k, v in sorted(dtypes.items()):
            print(f"    {'.'.join(k)}: {sorted(v)}")
    else:
        print("\nall forward outputs and backward gradients were float32")


# ==================================================================================================
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["cpu", "gpu", "all"], default="cpu")
    p.add_argument("--config", dest="configs", action="append", choices=sorted(CONFIGS),
                   help="repeatable; default: all three")
    p.add_argument("--compare-torch", action="store_true", help="interleave the same networks in PyTorch")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="threads for numpy's BLAS and torch (default: usable cores)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--min-time", type=float, default=0.25, help="seconds per timed repeat (sets iterations)")
    p.add_argument("--mode", choices=["separate", "same-process"], default="separate",
                   help="separate: one process per framework, alternating in rounds (default, as users run it); "
                        "same-process: both in one process, alternating every repeat")
    p.add_argument("--rounds", type=int, default=3, help="process rounds per framework in separate mode")
    p.add_argument("--no-memory", action="store_true", help="same-process mode: skip the peak-memory subprocesses")
    p.add_argument("--no-write", action="store_true", help="do not update benchmarks/RESULTS.md")
    p.add_argument("--unset-openblas-env", action="store_true",
                   help="run workers without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (benchmarks only)")
    p.add_argument("--malloc-tuned", action="store_true",
                   help=f"run workers with {' '.join(k + '=' + v for k, v in MALLOC_ENV.items())} (glibc)")
    p.add_argument("--loop", choices=["gan", "user", "graph"], default="gan",
                   help="gan: tinygan.app.gan.GAN.train_step (workers call keep_freed_memory as the CLI does) and "
                        "its torch mirror; user: the plain PyTorch-style loop a user writes, one text run by "
                        "both frameworks, nothing tinygan-specific, MALLOC_* unset (RESULTS.md section "
                        "'... user-loop'); graph (GPU only): GAN.train_step replayed as a CUDA graph against "
                        "torch's eager mirror")
    p.add_argument("--profile", choices=["ops", "cprofile", "pyinstrument"],
                   help="profile the tinygan step of one --config in this process instead of benchmarking")
    p.add_argument("--iters", type=int, default=30, help="iterations profiled with --profile")
    p.add_argument("--top", type=int, default=25, help="rows of cProfile output")
    p.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.configs = args.configs or list(CONFIGS)
    args.blas = "unknown"
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.loop == "user" and args.malloc_tuned:
        raise SystemExit("--loop user runs as a user does: it cannot be combined with --malloc-tuned")
    if args.loop == "graph" and args.device != "gpu":
        raise SystemExit("--loop graph replays a CUDA graph: it needs --device gpu")
    if args._worker:
        kind, job = args._worker[0], json.loads(args._worker[1])
        result = (worker_timing if kind == "timing" else worker_memory)(job)
        print(json.dumps(result))
        return 0
    import tinygan
    if args.profile:
        args.config = args.configs[0]
        if args.device == "all":
            args.device = "cpu"
        profile(args)
        return 0

    torch_version = torch_version_or_none() if args.compare_torch else None
    devices = ["cpu", "gpu"] if args.device == "all" else [args.device]
    for device in devices:
        if device == "gpu" and not tinygan.device_available("gpu"):
            print("[gpu] skipped: no usable CuPy/CUDA device on this machine")
            continue
        rows, notes, compare = run_device(device, args, torch_version)
        variant = (f"{device} threads={args.threads}" + (" malloc-tuned" if args.malloc_tuned else "")
                   + (" user-loop" if args.loop == "user" else ""))
        lines = [f"## GAN training step, {variant}", ""]
        lines += machine_info(args, device, torch_version)
        lines += [f"- {n}" for n in notes]
        lines += ["- peak MiB: CPU = peak RSS (VmHWM) of a process running that framework alone (imports included; in "
                  "brackets the growth during warm-up and timing over the peak after setup); GPU = CuPy pool / "
                  "torch.cuda.max_memory_allocated"]
        lines += ["- CPU ms/iter: process CPU time (user + sys, summed over threads, so with several threads it "
                  "includes spin-waiting) per iteration; page faults/iter: minor faults (fresh pages mapped by the "
                  "kernel, counted as sys time)"]
        if args.loop == "user":
            knob = os.environ.get("TINYGAN_KEEP_FREED_MEMORY")
            lines += ["- the user loop (`--loop user`): one PyTorch-style text run by both frameworks, no "
                      "tinygan.app, no keep_freed_memory() call, no MALLOC_* variables; tinygan applies its "
                      "defaults itself" + (f" (TINYGAN_KEEP_FREED_MEMORY={knob} in the environment)"
                                           if knob is not None else "")]
        else:
            lines += ["- tinygan workers call tinygan.backend.keep_freed_memory() as the training CLI does; "
                      "torch runs with its defaults"]
        if args.malloc_tuned:
            lines += [f"- glibc malloc tuned for BOTH frameworks: {MALLOC_ENV}"]
        if compare:
            lines += [f"- mode: {args.mode}" + (f", {args.rounds} alternating process rounds per framework"
                                                 if args.mode == "separate" else "")]
            lines += ["- tinygan/torch: ratio of medians; in brackets the IQR of the per-repeat ratios of "
                      "interleaved repeats (< 1 means tinygan is faster); CPU: ratio of median CPU times, "
                      "the steadier number on a shared machine at 1 thread"]
        lines += [""] + format_table(rows, compare)
        print("\n".join(lines))
        if not args.no_write:
            write_results(f"bench_gan_step {variant}", lines)
            print(f"\nwritten to {os.path.relpath(RESULTS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
