"""The Optimizer base class: parameter bookkeeping, flat buffers, zero_grad, step and state_dict.

Subclasses (Adam, SGD, RMSprop) define ``_update(k, group, step)``, the update of flat buffer ``k``
(``self._flats[k]``, its state arrays from ``self._buffer(k, name)``) with the hyperparameters of ``group``
at step number ``step`` (1 on the first step), written twice: as in-place array ops with ``out=`` on
preallocated scratch arrays (``self._scratch_arrays(k, n)``; NumPy, and CuPy when ``fused.enabled`` is
False) and as one fused CuPy kernel. Hyperparameters are read from ``param_groups[0]`` at every step, so
``opt.param_groups[0]["lr"] = 1e-4`` works as in PyTorch.

CUDA graphs (tinygan/cuda_graph.py) replay a step without running Python, so a Python number computed from
the step count would be frozen at capture. ``keep_step_on_device()`` keeps a copy of the step count in a
0-d float64 device array, advanced by ``step`` on the device; optimizers whose update depends on the step
(Adam's bias corrections) then compute it there (``self._device_step``, None otherwise: the eager path is
unchanged). SGD's first-step rule and every hyperparameter stay Python numbers: capture after one eager step,
and capture again after changing a hyperparameter (``hyperparameters()`` tells what a capture froze).

Building an optimizer over CPU parameters also tunes glibc's allocator once per process
(``backend.keep_freed_memory_by_default``: freed arrays stay mapped, so a training loop does not
page-fault its arrays in again every step); set TINYGAN_KEEP_FREED_MEMORY=0 to opt out.
"""
import numpy as np

from tinygan import backend, kernels
from tinygan.optim import fused
from tinygan.optim.flat import FlatParameters
from tinygan.tensor import Tensor, array_of, enable_grad


class Optimizer:
    """Base class: holds the parameters in flat buffers (see tinygan/optim/flat.py) and one parameter group."""
    state_names = ()  # names of the per-parameter state arrays, as in PyTorch's state_dict

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor) or not hasattr(params, "__iter__"):
            raise TypeError(f"{name}: params should be an iterable of Tensors (e.g. model.parameters()), "
                            f"got {type(params).__name__}")
        params = list(params)
        group = dict(defaults)
        if params and isinstance(params[0], dict):
            if len(params) > 1:
                raise NotImplementedError(f"{name}: tinygan optimizers take one parameter group, got {len(params)}; "
                                          f"make one optimizer per group")
            group.update(params[0])
            params = list(group.pop("params"))
        if not params:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: parameter {i} has dtype {p.dtype}; only floating point tensors can be "
                                f"optimized")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} is not a leaf tensor (it was computed by an op); "
                                 f"optimize the leaves it came from")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} appears twice in the parameter list")
            seen.add(id(p))
        self._check_hyperparameters(group)
        self.defaults = dict(defaults)
        group["params"] = params
        self.param_groups = [group]
        self._step = 0
        self._device_step = None  # the step count on the device, for CUDA graphs (keep_step_on_device)
        self._build()
        if any(flat.xp is np for flat in self._flats):
            backend.keep_freed_memory_by_default()   # once per process; TINYGAN_KEEP_FREED_MEMORY=0 opts out

    def _check_hyperparameters(self, group):
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay", "momentum", "alpha", "dampening"):
            if key in group and not group[key] >= 0:
                raise ValueError(f"{name}: invalid {key} {group[key]!r}, expected a number >= 0")
        if "betas" in group:
            for i, beta in enumerate(group["betas"]):
                if not 0.0 <= beta < 1.0:
                    raise ValueError(f"{name}: invalid beta parameter at index {i}: {beta!r}, expected 0 <= beta < 1")

    # ---- flat buffers ---------------------------------------------------------------------------
    def _build(self):
        """Group the parameters by (dtype, device) into flat buffers, each with its own state arrays."""
        params = self.param_groups[0]["params"]
        groups = {}
        for i, p in enumerate(params):
            groups.setdefault((p.dtype.str, p.device), []).append(i)
        self._flats = []      # FlatParameters, one per (dtype, device)
        self._indices = []    # the global index of each of their parameters
        self._states = []     # name -> flat state array, one dict per FlatParameters
        self._scratch = []    # preallocated temporaries of the array-op path, made on first use
        for indices in groups.values():
            self._flats.append(FlatParameters([params[i] for i in indices]))
            self._indices.append(indices)
            self._states.append({})
            self._scratch.append([])

    def _sync(self):
        """Re-adopt replaced p.array / p.grad; rebuild the buffers, keeping the state, if a parameter moved."""
        for flat in self._flats:
            if not flat.sync():
                state = self._state_per_param()
                self._build()
                self._load_state_per_param(state)
                return

    def _buffer(self, k, name):
        """State array ``name`` of flat buffer ``k`` and whether it was just made (zero), made on first use."""
        state = self._states[k]
        if name in state:
            return state[name], False
        state[name] = self._flats[k].zeros()
        return state[name], True

    def _scratch_arrays(self, k, n):
        """``n`` preallocated flat temporaries of buffer ``k`` (the array-op path's only extra memory)."""
        scratch = self._scratch[k]
        while len(scratch) < n:
            scratch.append(self._flats[k].xp.empty_like(self._flats[k].data))
        return scratch

    @staticmethod
    def _with_weight_decay(xp, p, g, weight_decay, out):
        """g + weight_decay * p written into ``out`` (PyTorch's L2 weight_decay), or g itself when it is 0."""
        if weight_decay == 0:
            return g
        xp.multiply(p, weight_decay, out=out)
        xp.add(out, g, out=out)
        return out

    def _use_kernel(self, k):
        """True when buffer ``k`` lives on the GPU and fused kernels are enabled."""
        return fused.enabled and kernels.enabled and self._flats[k].xp is not np

    # ---- CUDA graphs ----------------------------------------------------------------------------
    def keep_step_on_device(self, on=True):
        """Keep the step count on the parameters' device too (for CUDA graphs; see the module docstring)."""
        if not on:
            self._device_step = None
            return
        xp = self._flats[0].xp
        if self._device_step is None:
            self._device_step = xp.zeros((), dtype=np.float64)
        self._device_step.fill(float(self._step))

    def buffers(self):
        """Every array a step reads or writes in place (flat values and grads, state, the device step count):
        a captured step stays valid while these are the same objects."""
        arrays = [a for flat in self._flats for a in (flat.data, flat.grad)]
        arrays += [a for state in self._states for a in state.values()]
        return arrays + ([self._device_step] if self._device_step is not None else [])

    def before_replay(self):
        """Before a captured step is launched: re-adopt replaced ``p.array`` / ``p.grad`` (host identity checks;
        a copy into the buffer only for a replaced array), as ``step`` does eagerly."""
        self._sync()

    def replayed(self, n=1):
        """A captured step ran ``n`` more updates on the device: count them on the host too."""
        self._step += n

    def hyperparameters(self):
        """The group's settings, without the parameters: what a captured step has frozen."""
        return {key: value for key, value in self.param_groups[0].items() if key != "params"}

    # ---- the PyTorch API ------------------------------------------------------------------------
    def zero_grad(self, set_to_none=False):
        """Set every gradient to zero: one fill of each flat grad buffer.

        ``set_to_none=True`` sets ``p.grad = None`` as PyTorch's default does; the next backward then makes new
        arrays that ``step`` copies back into the buffer, so the default here keeps the views.
        """
        if set_to_none:
            for p in self.param_groups[0]["params"]:
                p.grad = None
            return
        self._sync()
        for flat in self._flats:
            flat.grad.fill(0)

    def step(self, closure=None):
        """One update of every parameter from its ``.grad`` (a None grad counts as zero)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._sync()
        self._step += 1
        if self._device_step is not None:
            self._device_step += 1                    # on the device: a CUDA graph replays this
        group = self.param_groups[0]
        for k in range(len(self._flats)):
            self._update(k, group, self._step)
        return loss

    def _update(self, k, group, step):
        raise NotImplementedError

    def state_dict(self):
        """{"state": {i: {"step": t, name: array}}, "param_groups": [{hyperparameters, "params": [0, 1, ...]}]}.

        Arrays are copies on the parameters' device; plain numbers and arrays only, so ``tinygan.save`` can
        write it. As in PyTorch, "state" is empty before the first step.
        """
        group = {key: value for key, value in self.param_groups[0].items() if key != "params"}
        group["params"] = list(range(len(self.param_groups[0]["params"])))
        return {"state": self._state_per_param(), "param_groups": [group]}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters, step count and state saved by ``state_dict`` (from any device)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                             f"(from optimizer.state_dict()), got {type(state_dict).__name__}")
        groups = state_dict["param_groups"]
        if len(groups) != 1:
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(groups)} parameter groups, "
                             f"this optimizer has 1")
        n = len(self.param_groups[0]["params"])
        if len(groups[0]["params"]) != n:
            raise ValueError(f"{name}.load_state_dict: the state dict is for {len(groups[0]['params'])} "
                             f"parameters, this optimizer has {n}")
        hyper = {key: value for key, value in groups[0].items() if key != "params"}
        if "betas" in hyper:
            hyper["betas"] = tuple(hyper["betas"])
        self._check_hyperparameters(hyper)
        self._sync()
        state = {int(i): s for i, s in state_dict["state"].items()}
        self._load_state_per_param(state)
        self.param_groups[0].update(hyper)

    def _state_per_param(self):
        state = {}
        if self._step == 0:
            return state
        for k, flat in enumerate(self._flats):
            for j, i in enumerate(self._indices[k]):
                entry = {"step": self._step}
                for sname, array in self._states[k].items():
                    entry[sname] = flat.view(array, j).copy()
                state[i] = entry
        return dict(sorted(state.items()))

    def _load_state_per_param(self, state):
        name = type(self).__name__
        n = len(self.param_groups[0]["params"])
        steps = set()
        checked = []
        for i, entry in state.items():
            if not 0 <= i < n:
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, but there are only {n}")
            for sname, value in entry.items():
                if sname == "step":
                    steps.add(int(value))
                elif sname not in self.state_names:
                    raise ValueError(f"{name}.load_state_dict: unknown state {sname!r} for parameter {i}; "
                                     f"expected {list(self.state_names)} (is it another optimizer's state?)")
                else:
                    checked.append((i, sname, value))
        if len(steps) > 1:
            raise ValueError(f"{name}.load_state_dict: parameters have different step counts {sorted(steps)}")
        where = {}
        for k, indices in enumerate(self._indices):
            for j, i in enumerate(indices):
                where[i] = (k, j)
        for k in range(len(self._flats)):
            self._states[k] = {}
        for i, sname, value in checked:
            k, j = where[i]
            flat = self._flats[k]
            value = array_of(value)
            if tuple(np.shape(value)) != flat.shapes[j]:
                raise ValueError(f"{name}.load_state_dict: state {sname!r} of parameter {i} has shape "
                                 f"{tuple(np.shape(value))}, the parameter has shape {flat.shapes[j]}")
            buffer, _ = self._buffer(k, sname)
            flat.view(buffer, j)[...] = backend.to_device(value, flat.device).astype(flat.dtype, copy=False)
        self._step = steps.pop() if steps else 0
        if self._device_step is not None:
            self._device_step.fill(float(self._step))

    def __repr__(self):
        lines = [f"{type(self).__name__} (", "Parameter Group 0"]
        for key, value in sorted(self.param_groups[0].items()):
            if key != "params":
                lines.append(f"    {key}: {value}")
        return "\n".join(lines) + "\n)"
