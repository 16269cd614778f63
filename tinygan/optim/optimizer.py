"""The Optimizer base class: parameter groups, flat buffers, zero_grad, step and state_dict.

Parameter groups are PyTorch's: ``Adam([{"params": G.parameters()}, {"params": D.parameters(), "lr": 1e-3}],
lr=2e-4)`` gives each group its own hyperparameters, a key missing from a group taking the constructor's value.
The parameters of each (group, dtype, device) live in one flat buffer (tinygan/optim/flat.py), so every buffer
has one set of hyperparameters.

Subclasses (Adam, SGD, RMSprop, Adadelta, Adagrad) define ``_update(k, group, step)``, the update of flat buffer ``k``
(``self._flats[k]``, its state arrays from ``self._buffer(k, name)``) with the hyperparameters of ``group``
(the buffer's parameter group) at step number ``step`` (1 on the group's first step), written twice: as
in-place array ops with ``out=`` on preallocated scratch arrays (``self._scratch_arrays(k, n)``; NumPy, and
CuPy when ``fused.enabled`` is False) and as one fused CuPy kernel. Hyperparameters are read from the group at
every step, so ``opt.param_groups[i]["lr"] = 1e-4`` (what lr schedulers do) takes effect at the next step.

Step counts: ``self._step`` counts the optimizer's steps; a group added by ``add_param_group`` after some steps
starts its own count at 0, as in PyTorch (``self._step_offsets[i]``: the optimizer's count when group ``i``
started), so Adam's bias correction for its parameters starts afresh.

CUDA graphs (tinygan/cuda_graph.py) replay a step without running Python, so a Python number computed from
the step count would be frozen at capture. ``keep_step_on_device()`` keeps a copy of the step count in a
0-d float64 device array, advanced by ``step`` on the device; optimizers whose update depends on the step
(Adam's bias corrections) then compute it there (``self._device_step``, None otherwise: the eager path is
unchanged). SGD's first-step rule and every hyperparameter stay Python numbers: capture after one eager step,
and capture again after changing a hyperparameter (``hyperparameters()`` tells what a capture froze). Capture
inside ``with opt.capturing():`` and call ``replayed(n)`` after each launch, so the host count follows the
device's.

Building an optimizer over CPU parameters also tunes glibc's allocator once per process
(``allocator.keep_freed_memory_by_default``: freed arrays stay mapped, so a training loop does not
page-fault its arrays in again every step); set TINYGAN_KEEP_FREED_MEMORY=0 to opt out.
"""
import contextlib

import numpy as np

from tinygan import allocator, kernels
from tinygan.core import Tensor, array_backend, array_of, enable_grad, increment_version
from tinygan.optim import fused
from tinygan.optim.flat import FlatParameters, set_grad_to_none


class Optimizer:
    """Base class, as torch.optim.Optimizer: parameter groups held in flat buffers (tinygan/optim/flat.py)."""
    state_names = ()  # names of the per-parameter state arrays, as in PyTorch's state_dict

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor) or not hasattr(params, "__iter__"):
            raise TypeError(f"{name}: params should be an iterable of Tensors (e.g. model.parameters()), "
                            f"got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self._step_offsets = []   # the optimizer's step count when each group started (0 unless added later)
        self._step = 0
        self._device_step = None  # the step count on the device, for CUDA graphs (keep_step_on_device)
        for group in groups:
            self._add_group(group)
        self._build()
        if any(flat.xp is np for flat in self._flats):
            allocator.keep_freed_memory_by_default()   # once per process; TINYGAN_KEEP_FREED_MEMORY=0 opts out

    # ---- parameter groups -----------------------------------------------------------------------
    def _params(self):
        """Every parameter, group after group: position i is parameter i of the state dict."""
        return [p for group in self.param_groups for p in group["params"]]

    def _add_group(self, group):
        """Check ``group`` (a dict with "params"), fill in the defaults and append it to param_groups."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key, got "
                            f"{type(group).__name__} (mixing dicts and Tensors in one list?)")
        if "params" not in group:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} has no 'params' key")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered collections, but the "
                            f"ordering of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        first = len(self._params())
        seen, earlier = set(), {id(p) for p in self._params()}
        for j, p in enumerate(params):
            i = first + j
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
            if id(p) in earlier:
                raise ValueError(f"{name}: some parameters appear in more than one parameter group")
            seen.add(id(p))
        group = {key: value for key, value in group.items() if key != "params"}
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_hyperparameters(group)
        group["params"] = params
        self.param_groups.append(group)
        self._step_offsets.append(self._step)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (missing ones from the defaults), as
        torch.optim.Optimizer.add_param_group; the state of the parameters already there is kept."""
        state = self._state_per_param()
        self._add_group(param_group)
        self._build()
        self._load_state_per_param(state, self._step)

    def _check_hyperparameters(self, group):
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay", "momentum", "alpha", "dampening", "lr_decay"):
            if key in group and not group[key] >= 0:
                raise ValueError(f"{name}: invalid {key} {group[key]!r}, expected a number >= 0")
        if "betas" in group:
            for i, beta in enumerate(group["betas"]):
                if not 0.0 <= beta < 1.0:
                    raise ValueError(f"{name}: invalid beta parameter at index {i}: {beta!r}, expected 0 <= beta < 1")

    # PyTorch's words for a hyperparameter out of range (its constructors' ValueError), and the range
    _TORCH_WORDS = {"lr": "learning rate", "eps": "epsilon value", "rho": "rho value"}

    def _check_like_torch(self, **values):
        """PyTorch's constructor checks, in its order and words, with the optimizer's name in front."""
        for key, value in values.items():
            if key == "betas":
                for i, beta in enumerate(value):
                    if not 0.0 <= beta < 1.0:
                        raise ValueError(f"{type(self).__name__}: Invalid beta parameter at index {i}: {beta}")
            elif not (0.0 <= value <= 1.0 if key == "rho" else 0.0 <= value):
                words = self._TORCH_WORDS.get(key, f"{key} value")
                raise ValueError(f"{type(self).__name__}: Invalid {words}: {value}")

    def _group_step(self, g):
        """The step count of parameter group ``g`` (smaller than ``self._step`` for a group added later)."""
        return self._step - self._step_offsets[g]

    # ---- flat buffers ---------------------------------------------------------------------------
    def _build(self):
        """Group the parameters by (group, dtype, device) into flat buffers, each with its own state arrays."""
        self._flats = []        # FlatParameters, one per (group, dtype, device)
        self._flat_group = []   # the parameter group of each
        self._indices = []      # the global index of each of their parameters
        self._states = []       # name -> flat state array, one dict per FlatParameters
        self._scratch = []      # preallocated temporaries of the array-op path, made on first use
        i = 0
        for g, group in enumerate(self.param_groups):
            buckets = {}
            for p in group["params"]:
                buckets.setdefault((p.dtype.str, p.device), []).append((i, p))
                i += 1
            for members in buckets.values():
                self._flats.append(FlatParameters([p for _, p in members]))
                self._flat_group.append(g)
                self._indices.append([i for i, _ in members])
                self._states.append({})
                self._scratch.append([])

    def _sync(self):
        """Re-adopt replaced p.array / p.grad; rebuild the buffers, keeping the state, if a parameter moved."""
        for flat in self._flats:
            if not flat.sync():
                state = self._state_per_param()
                self._build()
                self._load_state_per_param(state, self._step)
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

    @contextlib.contextmanager
    def capturing(self):
        """While a CUDA graph records ``step`` calls: their host code runs (and freezes the step numbers it
        computes) but no update happens, so the host count is put back on exit; ``replayed`` counts launches."""
        step = self._step
        try:
            yield self
        finally:
            self._step = step

    def replayed(self, n=1):
        """A captured step ran ``n`` more updates on the device: count them on the host too."""
        self._step += n

    def hyperparameters(self):
        """Each group's settings, without the parameters, and the step its count started at: what a captured
        step has frozen."""
        return [{**{key: value for key, value in group.items() if key != "params"}, "step_offset": offset}
                for group, offset in zip(self.param_groups, self._step_offsets)]

    # ---- the PyTorch API ------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Clear every gradient, as torch.optim.Optimizer.zero_grad.

        ``set_to_none=True`` (PyTorch 2's default) sets ``p.grad = None``; the flat buffer stays each parameter's
        home, so the next backward writes into it again (tinygan/optim/flat.py). ``set_to_none=False`` zeros
        the gradients in place: one fill of each flat grad buffer.
        """
        if set_to_none:
            for p in self._params():
                set_grad_to_none(p)
            return
        self._sync()
        for flat in self._flats:
            flat.grad.fill(0)                         # a None grad stays None, as in PyTorch

    def step(self, closure=None):
        """One update of every parameter from its ``.grad``; a parameter whose grad is None is skipped."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._sync()
        self._step += 1
        if self._device_step is not None:
            self._device_step += 1                    # on the device: a CUDA graph replays this
        for k, g in enumerate(self._flat_group):
            kept = self._keep_missing(k)
            self._update(k, self.param_groups[g], self._group_step(g))
            if kept:
                self._put_back(k, kept)
        for group in self.param_groups:
            for p in group["params"]:
                increment_version(p)                  # a graph built with the old values refuses to backward
        return loss

    def _update(self, k, group, step):
        raise NotImplementedError

    def _initial_state(self, name, k):
        """The value state array ``name`` of buffer ``k`` starts at (0; Adagrad's sum starts elsewhere)."""
        return 0.0

    def _keep_missing(self, k):
        """Copies of the values and state of buffer ``k``'s parameters whose grad is None, which PyTorch's step
        skips: the fused pass updates every parameter, ``_put_back`` restores these (an empty dict: none)."""
        flat = self._flats[k]
        return {j: {name: flat.view(array, j).copy() for name, array in [("", flat.data), *self._states[k].items()]}
                for j in flat.missing}

    def _put_back(self, k, kept):
        flat = self._flats[k]
        for j, arrays in kept.items():
            for name, array in [("", flat.data), *self._states[k].items()]:
                view = flat.view(array, j)
                if name in arrays:
                    view[...] = arrays[name]
                else:
                    view.fill(self._initial_state(name, k))   # state made by this step: as if never stepped

    def state_dict(self):
        """{"state": {i: {"step": t, name: array}}, "param_groups": [{hyperparameters, "params": [i, ...]}, ...]}
        with PyTorch's layout: parameters numbered 0, 1, ... across the groups, in order.

        Arrays are copies on the parameters' device; plain numbers and arrays only, so ``tinygan.save`` can
        write it. As in PyTorch, "state" has no entry for a parameter before its first step.
        """
        groups, i = [], 0
        for group in self.param_groups:
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = list(range(i, i + len(group["params"])))
            i += len(group["params"])
            groups.append(saved)
        return {"state": self._state_per_param(), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters, step counts and state saved by ``state_dict`` (from any device); the saved
        groups are matched to this optimizer's in order, parameter by parameter, as in PyTorch."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                             f"(from optimizer.state_dict()), got {type(state_dict).__name__}")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        index_of, hypers, i = {}, [], 0   # saved parameter id -> this optimizer's global index
        for g, (saved, group) in enumerate(zip(groups, self.param_groups)):
            n = len(group["params"])
            if len(saved["params"]) != n:
                where = "" if len(groups) == 1 else f"group {g} of "
                raise ValueError(f"{name}.load_state_dict: {where}the state dict is for {len(saved['params'])} "
                                 f"parameters, this optimizer has {n}")
            for saved_id in saved["params"]:
                index_of[saved_id] = i
                i += 1
            hyper = {key: value for key, value in saved.items() if key != "params"}
            if "betas" in hyper:
                hyper["betas"] = tuple(hyper["betas"])
            self._check_hyperparameters(hyper)
            hypers.append(hyper)
        state = {}
        for saved_id, entry in state_dict["state"].items():
            key = int(saved_id) if saved_id not in index_of and str(saved_id).isdigit() else saved_id
            if key not in index_of:
                raise ValueError(f"{name}.load_state_dict: state for parameter {saved_id}, which is in no "
                                 f"parameter group of the state dict")
            state[index_of[key]] = entry
        self._sync()
        self._load_state_per_param(state)
        for group, hyper in zip(self.param_groups, hypers):
            group.update(hyper)

    def _state_per_param(self):
        state = {}
        for k, flat in enumerate(self._flats):
            step = self._group_step(self._flat_group[k])
            if step == 0:
                continue                                # no state before a group's first step
            for j, i in enumerate(self._indices[k]):
                entry = {"step": step}
                for sname, array in self._states[k].items():
                    entry[sname] = flat.view(array, j).copy()
                state[i] = entry
        return dict(sorted(state.items()))

    def _load_state_per_param(self, state, total_steps=None):
        """Load {global index: {"step": t, name: array}}; the optimizer's step count becomes ``total_steps``,
        or the largest group step count."""
        name = type(self).__name__
        n = len(self._params())
        group_of = [g for g, group in enumerate(self.param_groups) for _ in group["params"]]
        steps = [set() for _ in self.param_groups]
        checked = []
        for i, entry in state.items():
            if not 0 <= i < n:
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, but there are only {n}")
            for sname, value in entry.items():
                if sname == "step":
                    steps[group_of[i]].add(int(array_of(value)))
                elif sname not in self.state_names:
                    raise ValueError(f"{name}.load_state_dict: unknown state {sname!r} for parameter {i}; "
                                     f"expected {list(self.state_names)} (is it another optimizer's state?)")
                else:
                    checked.append((i, sname, value))
        for g, found in enumerate(steps):
            if len(found) > 1:
                where = "parameters" if len(steps) == 1 else f"parameters of group {g}"
                raise ValueError(f"{name}.load_state_dict: {where} have different step counts {sorted(found)}; "
                                 f"tinygan keeps one step count per parameter group")
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
            flat.view(buffer, j)[...] = array_backend.to_device(value, flat.device).astype(flat.dtype, copy=False)
        group_steps = [found.pop() if found else 0 for found in steps]
        self._step = max(group_steps) if total_steps is None else total_steps
        self._step_offsets = [self._step - s for s in group_steps]
        if self._device_step is not None:
            self._device_step.fill(float(self._step))

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for g, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {g}")
            for key, value in sorted(group.items()):
                if key != "params":
                    lines.append(f"    {key}: {value}")
        return "\n".join(lines) + "\n)"
