"""Containers: Sequential (run modules one after another) and ModuleList (a registered list of modules).

Children are registered under their position as a string ("0", "1", ...), which gives PyTorch's parameter
names "0.weight", "1.bias" and its state_dict keys.
"""
import collections
import operator

from tinygan.nn.module import Module


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


def _position(container, index):
    """A non-negative position from a (possibly negative) int index, with PyTorch's IndexError."""
    index = operator.index(index)
    n = len(container)
    if not -n <= index < n:
        raise IndexError(f"index {index} is out of range for {type(container).__name__} of length {n}")
    return index % n
