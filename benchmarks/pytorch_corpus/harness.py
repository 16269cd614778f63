"""Run one (already rewritten) corpus script on torch or tinygan with the randomness made identical, and record
its losses and timings.

    python harness.py {torch,tinygan} THREADS OUT.json SCRIPT.py [script args...]

How the two frameworks start from the same weights and see the same data (the same patches on both sides, applied
before the script is imported; the script's own text is not touched):
- every random tensor the *script* asks for -- ``randn``, ``rand``, ``randn_like``, ``rand_like``, ``randint``
  and ``normal`` (mean and std numbers or tensors) of the framework module -- is drawn from one NumPy
  ``RandomState(0)`` and converted, so noise vectors, fake labels, ``torch.normal(2 * ones, 1)`` data and
  ``torch.randn(N, D)`` weights are the same numbers on both sides; ``random``/``numpy.random`` are seeded;
  ``empty``/``empty_like`` give zeros (uninitialised memory, printed by the 60-minute blitz);
- parameters: on a module's first call, every parameter not yet seen is overwritten in place from a second
  ``RandomState(1)``, in ``named_parameters()`` order, with U(-1/sqrt(fan_in), 1/sqrt(fan_in)); parameters holding
  a constant (BatchNorm's ones and zeros, a script's ``constant_(bias, 0)``) keep it. The framework's own
  initialisers (different RNGs) therefore never matter; the overwrite is in place, so optimizers made earlier
  still hold the parameters;
- dropout masks (``F.dropout``, ``F.dropout2d``, i.e. ``nn.Dropout``/``nn.Dropout2d``) come from a third
  ``RandomState(2)``;
- ``DataLoader(shuffle=True)`` is made ``shuffle=False``: both frameworks read the batches in file order.

What is recorded (JSON in OUT): the value of every scalar ``.backward()`` is called on (the losses, first 50) and
the time of each call (``perf_counter``); ``error``: the first error, ``line N: code -> Exception: message``
(N in the rewritten script). After 60 backward calls the run is stopped by a ``BaseException`` the script cannot
catch; it counts as a run ("capped").
"""
import atexit
import json
import os
import random
import runpy
import sys
import time
import traceback

import numpy as np

CAP = int(os.environ.get("CORPUS_CAP", "60"))


class Capped(BaseException):
    pass


def main():
    fw_name, threads, out, script = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    record = {"framework": fw_name, "threads": threads, "losses": [], "times": [], "n_backward": 0,
              "capped": False, "error": "", "ok": False, "gaps": []}
    R, W, D = np.random.RandomState(0), np.random.RandomState(1), np.random.RandomState(2)
    random.seed(0)
    np.random.seed(0)

    if fw_name == "torch":
        import torch as fw
        import torch.nn.functional as F
        fw.manual_seed(0)
        fw.set_num_threads(threads)
        functionals = [F]
        Tensor = fw.Tensor
        DataLoader = fw.utils.data.DataLoader

        def to(a, dtype=None):
            t = fw.from_numpy(np.ascontiguousarray(a))
            return t.to(dtype) if dtype is not None and not isinstance(dtype, type) else t

        def assign(p, a):
            with fw.no_grad():
                p.copy_(fw.from_numpy(a).to(p.dtype))

        def size_of(t):
            return tuple(t.shape)
    else:
        import tinygan as fw
        import tinygan.functional
        import tinygan.nn.functional
        import tinygan.utils.data
        fw.manual_seed(0)
        functionals = [tinygan.functional, tinygan.nn.functional]
        Tensor = fw.Tensor
        DataLoader = tinygan.utils.data.DataLoader

        def to(a, dtype=None):
            return fw.tensor(np.ascontiguousarray(a if dtype is None else a.astype(dtype)))

        def assign(p, a):
            p.data.copy_(a.astype(np.float32))

        def size_of(t):
            return tuple(t.shape)

    if fw_name == "tinygan" and os.environ.get("CORPUS_PROBE"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import probe_patches
        probe_patches.apply(fw, record)

    # ---- random tensors the script asks for -------------------------------------------------------
    def _shape(size, kwargs):
        if "size" in kwargs:
            size = (kwargs.pop("size"),)
        if len(size) == 1 and not isinstance(size[0], int):
            size = tuple(size[0])
        return tuple(int(s) for s in size)

    def _finish(a, kwargs):
        dtype = kwargs.get("dtype")
        t = to(a, dtype)
        if kwargs.get("requires_grad"):
            t.requires_grad_(True)
        return t

    def randn(*size, **kw):
        return _finish(R.standard_normal(_shape(size, kw)).astype(np.float32), kw)

    def rand(*size, **kw):
        return _finish(R.random_sample(_shape(size, kw)).astype(np.float32), kw)

    def randn_like(t, **kw):
        return _finish(R.standard_normal(size_of(t)).astype(np.float32), kw)

    def rand_like(t, **kw):
        return _finish(R.random_sample(size_of(t)).astype(np.float32), kw)

    def randint(low, high=None, size=None, **kw):
        if high is None:
            low, high = 0, low
        if size is None:
            size = kw.pop("size")
        kw.pop("dtype", None)
        return _finish(R.randint(low, high, size=tuple(size)).astype(np.int64), kw)

    def as_numpy(v):
        if isinstance(v, Tensor):
            return np.asarray(v.detach().cpu().numpy() if fw_name == "torch" else v.detach().numpy())
        return np.float32(v)

    def normal(mean, std=1.0, size=None, **kw):
        m, s = as_numpy(mean), as_numpy(std)
        shape = np.broadcast_shapes(m.shape, s.shape) if size is None else _shape((size,), {})
        dtype = next((v.dtype for v in (mean, std) if isinstance(v, Tensor)), None)
        z = R.standard_normal(shape).astype(np.float32)
        return _finish((m + s * z).astype(np.float32), dict(kw, dtype=kw.get("dtype", dtype)))

    for name, fn in [("randn", randn), ("rand", rand), ("randn_like", randn_like), ("rand_like", rand_like),
                     ("randint", randint), ("normal", normal)]:
        setattr(fw, name, fn)

    # uninitialised memory is the one other thing a script may print that differs from run to run: zeros
    fw.empty, fw.empty_like = fw.zeros, fw.zeros_like

    # ---- dropout masks ------------------------------------------------------------------------------
    def dropout(input, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return input
        return input * to((D.random_sample(size_of(input)) >= p).astype(np.float32) / np.float32(1 - p))

    def dropout2d(input, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return input
        shape = size_of(input)[:-2] + (1, 1)
        return input * to((D.random_sample(shape) >= p).astype(np.float32) / np.float32(1 - p))

    for F_ in functionals:
        F_.dropout, F_.dropout2d = dropout, dropout2d

    # ---- shuffle off ------------------------------------------------------------------------------
    dl_init = DataLoader.__init__

    def dl_init_noshuffle(self, dataset, batch_size=1, shuffle=None, *args, **kwargs):
        dl_init(self, dataset, batch_size, False if shuffle else shuffle, *args, **kwargs)

    DataLoader.__init__ = dl_init_noshuffle

    # ---- parameters overwritten on a module's first call ----------------------------------------------
    seen_params, ready_modules = set(), set()
    keep_alive = []
    call = fw.nn.Module.__call__

    def align(p):
        """p's first value drawn from the shared generator W (once per parameter; constant ones are kept)."""
        if id(p) in seen_params:
            return
        seen_params.add(id(p))
        keep_alive.append(p)
        shape = size_of(p)
        a = np.asarray(p.detach().cpu().numpy() if fw_name == "torch" else p.detach().numpy())
        if a.size > 1 and np.all(a == a.flat[0]):
            return
        fan_in = int(np.prod(shape[1:])) if len(shape) >= 2 else max(int(np.prod(shape)), 1)
        b = 1.0 / np.sqrt(fan_in)
        assign(p, W.uniform(-b, b, size=shape).astype(np.float32))

    def reinit_call(self, *args, **kwargs):
        if id(self) not in ready_modules:
            ready_modules.add(id(self))
            keep_alive.append(self)
            for _, p in self.named_parameters():
                align(p)
        return call(self, *args, **kwargs)

    fw.nn.Module.__call__ = reinit_call

    # parameters handed to an optimizer before any call (a Layer that builds its own optimizer and is trained
    # through self.forward, never called: pytorch/examples mnist_forward_forward) are aligned there, in order
    optimizer_init = fw.optim.Optimizer.__init__

    def aligning_optimizer_init(self, params, *args, **kwargs):
        params = [dict(g, params=list(g["params"])) if isinstance(g, dict) else g for g in params]
        for group in params:
            for p in (group["params"] if isinstance(group, dict) else [group]):
                align(p)
        optimizer_init(self, params, *args, **kwargs)

    fw.optim.Optimizer.__init__ = aligning_optimizer_init

    # ---- losses and times -----------------------------------------------------------------------------
    backward = Tensor.backward
    inside = []                     # torch.set_default_device's mode calls Tensor.backward again from within it

    def recording_backward(self, *args, **kwargs):
        if inside:
            return backward(self, *args, **kwargs)
        inside.append(True)
        try:
            return recorded_backward(self, *args, **kwargs)
        finally:
            inside.pop()

    def recorded_backward(self, *args, **kwargs):
        record["n_backward"] += 1
        if record["n_backward"] > CAP:
            record["capped"] = True
            raise Capped()
        if len(record["losses"]) < 50:
            try:
                record["losses"].append(float(self.item()) if int(np.prod(size_of(self))) == 1 else None)
            except Exception:                                  # noqa: BLE001 -- a loss we cannot read
                record["losses"].append(None)
        record["times"].append(time.perf_counter())
        return backward(self, *args, **kwargs)

    Tensor.backward = recording_backward

    def write():
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.replace(tmp, out)

    atexit.register(write)
    sys.argv = [script] + sys.argv[5:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    begin = time.perf_counter()
    try:
        runpy.run_path(script, run_name="__main__")
        record["ok"] = True
    except Capped:
        record["ok"] = True
    except SystemExit as exc:
        record["ok"] = exc.code in (None, 0)
        if not record["ok"]:
            record["error"] = f"SystemExit: {exc.code}"
    except BaseException as exc:                               # noqa: BLE001 -- report whatever stopped it
        traceback.print_exc()
        where = ""
        for frame in traceback.extract_tb(exc.__traceback__):
            if os.path.abspath(frame.filename) == os.path.abspath(script):
                where = f"line {frame.lineno}: {frame.line} -> "
        message = traceback.format_exception_only(type(exc), exc)[-1].strip().splitlines()[0]
        record["error"] = (where + message)[:400]
    record["wall"] = time.perf_counter() - begin
    write()
    sys.stdout.flush()
    os._exit(0 if record["ok"] else 1)


if __name__ == "__main__":
    main()
