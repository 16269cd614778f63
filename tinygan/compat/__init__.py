"""What exists so that PyTorch code runs on tinygan unchanged. Built on the core, never imported by it.

    tensor_methods.py    Tensor methods beyond the engine's: legacy types, new_*, split, norm, gather, ...
    in_place.py          the in-place methods (add_, exp_, clamp_, normal_, ...), recorded as PyTorch's rebase
    legacy_types.py      tinygan.FloatTensor & co (PyTorch's legacy tensor types)
    tensor_functions.py  torch.* functions: tinygan.sum(x, 1), tinygan.where(c, x, y), ...
    more_tensor_ops.py   diag, dot, matrix_power, remainder, sort, unique, & | ^ ~, eq/ne/..., any, all
    cuda.py              torch.cuda (tinygan.cuda): is_available, manual_seed, cuda.FloatTensor, ...
    backends.py          torch.backends (tinygan.backends): cudnn's switches, kept and not acted on
    accelerator.py       torch.accelerator (tinygan.accelerator): is_available, current_accelerator
    autograd_graph.py    grad_fn as PyTorch's graph node: name(), next_functions, AccumulateGrad, node hooks

Every op makes its result as the core's Tensor, so the extra methods must be on that class: the line below
copies them onto it, the one place where anything outside tinygan/core/ adds to Tensor. ``import tinygan``
runs it. The same goes for the core's Function and the methods PyTorch code reads on a ``grad_fn``.
"""
from tinygan.compat.autograd_graph import install_node_methods
from tinygan.compat.tensor_methods import TensorMethods, install_tensor_methods
from tinygan.core import Function, Tensor

install_tensor_methods(Tensor)
install_node_methods(Function)

from tinygan.compat import accelerator, backends, cuda, legacy_types, tensor_functions  # noqa: E402,F401
