"""tinygan.functional, imported as ``F`` as in PyTorch: activations, layers and losses as functions.

Each function here is a thin wrapper that applies a Function from tinygan/ops/; read the op's class for
its forward and backward.
"""
from tinygan.ops import elementwise as _elem
from tinygan.ops import reduction as _red
from tinygan.ops import shape as _shape
from tinygan.tensor import Tensor


# ==================================================================================================
# Elementwise and activations
# ==================================================================================================
def exp(x):
    """exp(x) elementwise."""
    return _elem.Exp.apply(x)


def log(x):
    """Natural logarithm elementwise."""
    return _elem.Log.apply(x)


def sqrt(x):
    """Square root elementwise."""
    return _elem.Sqrt.apply(x)


def abs(x):
    """|x| elementwise."""
    return _elem.Abs.apply(x)


def clamp(x, min=None, max=None):
    """min(max(x, min), max) elementwise."""
    return x.clamp(min, max)


def tanh(x):
    """tanh(x) elementwise."""
    return _elem.Tanh.apply(x)


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise."""
    return _elem.Sigmoid.apply(x)


def relu(x):
    """max(x, 0) elementwise."""
    return _elem.ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope * x."""
    return _elem.LeakyReLU.apply(x, negative_slope=negative_slope)


def softplus(x):
    """log(1 + exp(x)), stable for large |x|."""
    return _elem.Softplus.apply(x)


def softmax(x, dim=-1):
    """exp(x) / sum(exp(x)) along ``dim``."""
    return _red.Softmax.apply(x, dim=dim)


def log_softmax(x, dim=-1):
    """x - logsumexp(x) along ``dim``."""
    return _red.LogSoftmax.apply(x, dim=dim)


# ==================================================================================================
# Joining tensors
# ==================================================================================================
def cat(tensors, dim=0):
    """Join tensors along an existing axis."""
    return _shape.Cat.apply(*tensors, dim=dim)


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new axis."""
    return _shape.Stack.apply(*tensors, dim=dim)


__all__ = [name for name in dir() if not name.startswith("_") and name != "Tensor"]
