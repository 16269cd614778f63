"""Module and Parameter: the bookkeeping that turns a pile of tensors into a model.

A ``Module`` notices what is assigned to it in ``__init__`` (``__setattr__``): a ``Parameter`` goes into
``self._parameters``, a sub-Module into ``self._modules``, a tensor given to ``register_buffer`` into
``self._buffers``; all three are ordered dicts, so parameters come out in definition order and get PyTorch's
dotted names ("0.weight", "net.1.bias") and state_dict keys.

Two rules keep optimizers that hold parameters and gradients as views into one flat buffer working:
- ``zero_grad`` sets gradients to None as PyTorch 2 does, but the flat buffer stays each parameter's home
  (``p._grad_home``), so the next backward writes into it again.
- ``load_state_dict`` copies values into the existing arrays (``p.array[...] = value``), never rebinds them.
``to(device)`` / ``to(dtype)`` must make new arrays, so call them before creating the optimizer.
"""
import collections

import numpy as np

from tinygan.core import Tensor, array_backend, array_of, increment_version
from tinygan.optim.flat import set_grad_to_none


class Parameter(Tensor):
    """A tensor that is a learnable weight of a Module: it requires grad, and Modules register it."""
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        super().__init__(data)                                # shares data's array, as torch.nn.Parameter
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of layers and models: subclasses assign parameters and sub-modules in ``__init__`` and
    define ``forward``; calling the module runs ``forward``."""

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", collections.OrderedDict())
        object.__setattr__(self, "_buffers", collections.OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", collections.OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define forward(self, ...) in the subclass")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ==============================================================================================
    # Registration: attribute assignment sorts values into parameters, buffers and sub-modules
    # ==============================================================================================
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before "
                                     f"Module.__init__() call: call super().__init__() first")
            object.__setattr__(self, name, value)
            return
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            self._forget(name, "_parameters")
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, "_modules")
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                f"(tinygan.nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module '{name}' "
                                f"(tinygan.nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' (Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Remove ``name`` from the instance dict and the other registries before it is registered in
        ``keep`` (left alone, so a replaced parameter keeps its place in the order, as in PyTorch)."""
        d = self.__dict__
        d.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                d[registry].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the three registries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in d[registry]:
                del d[registry][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Add a Parameter (or None, a placeholder such as a layer's missing bias) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot register {type(param).__name__} as parameter "
                            f"'{name}' (tinygan.nn.Parameter or None expected)")
        _check_name(name, "register_parameter")
        self._forget(name, "_parameters")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a tensor that is state but not a parameter (BatchNorm's running_mean): it gets no gradient,
        is moved by ``to`` and, when ``persistent``, saved in the state_dict after the parameters."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot register {type(tensor).__name__} as buffer '{name}' "
                            f"(Tensor or None expected)")
        _check_name(name, "register_buffer")
        self._forget(name, "_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Add a child module under ``name`` (how containers register "0", "1", ...)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        _check_name(name, "add_module")
        self._forget(name, "_modules")
        self._modules[name] = module

    # ==============================================================================================
    # Walking the tree
    # ==============================================================================================
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every descendant, depth first; "" names self."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            child_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))                  # a parameter shared by two layers is listed once
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) in definition order, e.g. ("0.weight", W), ("0.bias", b), ..."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant, then on self (for custom initialisation); returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ==============================================================================================
    # Modes and gradients
    # ==============================================================================================
    def train(self, mode=True):
        """Set training mode (batch statistics, dropout on) on this module and all descendants; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {type(mode).__name__}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Set evaluation mode (running statistics, dropout off) recursively; same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Turn gradient tracking of every parameter on or off (freeze D while updating G); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear every gradient, as torch.nn.Module.zero_grad: ``set_to_none=True`` (PyTorch 2's default) sets
        ``p.grad = None`` (an optimizer's flat buffer stays the home the next backward writes into:
        tinygan/optim/flat.py); ``set_to_none=False`` fills existing gradients with 0 in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                set_grad_to_none(p)
            else:
                p.grad.array[...] = 0

    # ==============================================================================================
    # Device and dtype
    # ==============================================================================================
    def to(self, *args, device=None, dtype=None):
        """Move parameters and buffers to ``device`` and/or cast floating-point ones to ``dtype``, in place;
        returns self. ``model.to("gpu")``, ``model.to(np.float64)``, ``model.to("cpu", np.float32)``.

        The arrays are replaced, so create the optimizer after calling this.
        """
        for a in args:
            if isinstance(a, str):
                device = a
            else:
                dtype = a
        if device is not None:
            device = array_backend.check_device(device)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")

        def convert(array):
            if device is not None and array_backend.device_of(array) != device:
                array = array_backend.to_device(array, device)
            if dtype is not None and array.dtype.kind == "f" and array.dtype != dtype:
                array = array.astype(dtype)
            return array

        for module in self.modules():
            for t in list(module._parameters.values()) + list(module._buffers.values()):
                if t is None:
                    continue
                t.array = convert(t.array)
                if t.grad is not None:
                    t.grad.array = convert(t.grad.array)
        return self

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def cpu(self):
        return self.to("cpu")

    def gpu(self):
        return self.to("gpu")

    def cuda(self, device=None):
        """``model.cuda()`` / ``model.cuda(0)``, as PyTorch: the parameters and buffers move to the GPU."""
        return self.to("gpu")

    # ==============================================================================================
    # state_dict
    # ==============================================================================================
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict of dotted name -> array copy: each module's parameters, then its persistent
        buffers, then its children's, as PyTorch orders them ("0.weight", "0.bias", "1.running_mean", ...).
        With ``keep_vars=True`` the values are the Parameter / buffer tensors themselves."""
        if destination is None:
            destination = collections.OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.array.copy()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.array.copy()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (arrays or tensors, any device) into the existing parameters and buffers IN PLACE.

        Every problem is collected first and reported in one RuntimeError: missing and unexpected keys
        (ignored with ``strict=False``) and shape mismatches (always an error). Nothing is copied when
        there is an error. Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a dict of name -> array, got {type(state_dict).__name__}")
        state = collections.OrderedDict((k, state_dict[k]) for k in state_dict.keys())
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched, updates = [], []
        for key, target in own.items():
            if key not in state:
                continue
            value = state[key]
            value = array_of(value)
            if not hasattr(value, "shape"):
                value = np.asarray(value)
            if tuple(value.shape) != tuple(target.shape):
                mismatched.append(f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} "
                                  f"from checkpoint, the shape in current model is {tuple(target.shape)}.")
                continue
            updates.append((target, value))
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        errors.extend(mismatched)
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for target, value in updates:
            device = array_backend.device_of(target.array)
            if array_backend.device_of(value) != device:
                value = array_backend.to_device(value, device)
            target.array[...] = value                 # in place: optimizer views into flat buffers stay valid
            increment_version(target)
        return IncompatibleKeys(missing, unexpected)

    # ==============================================================================================
    # repr, as PyTorch prints it
    # ==============================================================================================
    def extra_repr(self):
        """The layer's settings shown inside its parentheses; subclasses override it."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def _error_name(self):
        """How error messages name this layer: its one-line repr, e.g. "Conv2d(3, 16, kernel_size=(3, 3), ...)"."""
        return f"{self._get_name()}({self.extra_repr()})"

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for name, module in self._modules.items():
            text = repr(module).replace("\n", "\n  ")         # indent the child's own lines
            child_lines.append(f"({name}): {text}")
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))


def _check_name(name, where):
    if not isinstance(name, str):
        raise TypeError(f"{where}: name must be a str, got {type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f"{where}: name {name!r} must be non-empty and contain no '.'")


def empty_parameter(*shape, device=None, dtype=None):
    """A Parameter of ``shape``, uninitialised (``reset_parameters`` fills it): float32 on the default device
    unless PyTorch's factory arguments ``device=`` / ``dtype=`` say otherwise."""
    xp, dtype = factory_arguments(device, dtype)
    return Parameter(xp.empty(shape, dtype=dtype))


def filled_parameter(value, *shape, device=None, dtype=None):
    """A Parameter of ``shape`` filled with ``value`` (a norm layer's weight = 1, bias = 0)."""
    xp, dtype = factory_arguments(device, dtype)
    return Parameter(xp.full(shape, value, dtype=dtype))


def factory_arguments(device=None, dtype=None):
    """(xp, dtype) for a layer's parameters and float buffers from PyTorch's ``device=`` and ``dtype=`` layer
    arguments: None is the default device and float32; ``dtype=float64`` makes float64 parameters."""
    device = array_backend.get_default_device() if device is None else array_backend.check_device(device)
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"layer parameters must have a floating point dtype, got dtype={dtype}")
    return array_backend.xp_for(device), dtype


def check_input(module, x, ok, expected):
    """Raise one clear error naming the layer when ``x`` is not a tensor or ``ok(x)`` is false:
    "Linear(in_features=784, out_features=512) expected input (..., 784), got (64, 100)"."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{module._error_name()} expected a Tensor input {expected}, got {type(x).__name__}")
    if not ok(x):
        raise ValueError(f"{module._error_name()} expected input {expected}, got {tuple(x.shape)}")


def call_naming_errors(module, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` (the functional a layer calls), with a ValueError or TypeError it raises re-raised
    with the layer named in front: "Conv2d(1, 8, kernel_size=(5, 5), stride=(1, 1)): conv2d: padded input size
    (3, 3) ... is smaller than ...". The checks live once, in ops/; the layer only adds its name."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{module._error_name()}: {exc}") from None
