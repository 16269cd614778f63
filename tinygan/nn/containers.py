"""Containers: Sequential (run modules one after another), ModuleList and ModuleDict (a registered list / dict
of modules), ParameterList and ParameterDict (a registered list / dict of parameters).

Children are registered under their position as a string ("0", "1", ...) or their key, which gives PyTorch's
parameter names "0.weight", "1.bias", "encoder.weight" and its state_dict keys.
"""
import collections
import operator

from tinygan.core import Tensor
from tinygan.nn.module import Module, Parameter


class Sequential(Module):
    """Modules applied in order: ``Sequential(Linear(100, 256), LeakyReLU(0.2), Linear(256, 784))``.

    Also takes one OrderedDict of name -> module, whose names then replace "0", "1", ...
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(collections.OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[_position(self, index)]

    def __setitem__(self, index, module):
        key = list(self._modules.keys())[_position(self, index)]
        self.add_module(key, module)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain Python list would hide them)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[str(_position(self, index))]

    def __setitem__(self, index, module):
        self.add_module(str(_position(self, index)), module)

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Add each of ``modules`` at the end; returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index``, renumbering those after it."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it and call each module")


class ModuleDict(Module):
    """A dict of modules (insertion order kept) whose parameters are registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        """Remove the module under ``key`` and return it."""
        return self._modules.pop(key)

    def update(self, modules):
        """Add (or replace) modules from a mapping or an iterable of (key, module) pairs."""
        _update_from(modules, self.add_module, "ModuleDict")

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): look a module up by its key and call it")


class ParameterList(Module):
    """A list of parameters, registered under "0", "1", ... (a tensor given is made a Parameter)."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(len(self))[index]])
        return getattr(self, str(_position(self, index)))

    def __setitem__(self, index, value):
        _set_member(self, str(_position(self, index)), value)

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        """Add ``value`` at the end; returns self."""
        self._size += 1
        _set_member(self, str(self._size - 1), value)
        return self

    def extend(self, values):
        """Add each of ``values`` at the end; returns self."""
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(f"({i}): {_describe(p)}" for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters (insertion order kept), registered under their keys (a tensor given is made a
    Parameter)."""

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}                                        # insertion order, as PyTorch's
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key, value):
        self._keys[key] = None
        _set_member(self, key, value)

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def items(self):
        return ((key, self[key]) for key in self._keys)

    def values(self):
        return (self[key] for key in self._keys)

    def pop(self, key):
        """Remove the parameter under ``key`` and return it."""
        value = self[key]
        del self[key]
        return value

    def update(self, parameters):
        """Add (or replace) parameters from a mapping or an iterable of (key, value) pairs."""
        _update_from(parameters, self.__setitem__, "ParameterDict")

    def extra_repr(self):
        return "\n".join(f"({key}): {_describe(p)}" for key, p in self.items())


def _update_from(pairs, add, name):
    """``add(key, value)`` for each entry of a mapping or an iterable of (key, value) pairs, in order."""
    if hasattr(pairs, "keys"):
        pairs = [(key, pairs[key]) for key in pairs.keys()]
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{name}.update: element {i} should be a (key, value) pair, got {pair!r}")
        add(*pair)


def _set_member(container, name, value):
    """Register ``value`` under ``name``: a tensor as a Parameter (as PyTorch's ParameterList / ParameterDict);
    anything else as a plain attribute."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        value = Parameter(value)
    if isinstance(value, Parameter):
        container.register_parameter(name, value)
    else:
        setattr(container, name, value)


def _describe(value):
    """PyTorch's one-line summary of a parameter: "Parameter containing: [torch.float32 of size 3x4]"."""
    if not isinstance(value, Tensor):
        return f"Object of type: {type(value).__name__}"
    size = "x".join(str(n) for n in value.shape)
    return f"Parameter containing: [tinygan.{value.dtype} of size {size}]"


def _position(container, index):
    """A non-negative position from a (possibly negative) int index, with PyTorch's IndexError."""
    index = operator.index(index)
    n = len(container)
    if not -n <= index < n:
        raise IndexError(f"index {index} is out of range for {type(container).__name__} of length {n}")
    return index % n
