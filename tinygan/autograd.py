"""``tinygan.autograd``: gradients as values (``grad``), higher-order gradients, and PyTorch's ``Variable``.

    g, = tinygan.autograd.grad(D(x).sum(), x, create_graph=True)   # dD/dx, itself differentiable
    penalty = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()        # WGAN-GP's gradient penalty
    penalty.backward()                                             # differentiates through g: d2D/dx dtheta

The walk is ``tinygan.tensor.run_backward``; with ``create_graph=True`` each op's ``backward_graph`` runs
instead of its ``backward``: the same formula on Tensors, so the backward pass is itself a recorded graph.
"""
from tinygan.tensor import Function, NoSecondDerivativeError, Tensor, root_gradient, run_backward

__all__ = ["Function", "NoSecondDerivativeError", "Variable", "backward", "grad"]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=False):
    """d(sum of outputs * grad_outputs)/d(input) for each input, returned as a tuple (``torch.autograd.grad``).

    Nothing is added into any ``.grad``. ``create_graph=True`` records the computation so the returned
    gradients can be differentiated again; ``retain_graph`` defaults to ``create_graph``. An input that the
    outputs do not depend on raises unless ``allow_unused=True`` (then its gradient is None).
    ``only_inputs`` is accepted for old PyTorch code (WGAN-GP scripts pass it); PyTorch ignores it too.
    """
    outputs = _as_list(outputs, "outputs")
    inputs = _as_list(inputs, "inputs")
    grad_outputs = [None] * len(outputs) if grad_outputs is None else _as_list(grad_outputs, "grad_outputs")
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad (call .requires_grad_() on it before "
                               f"the forward)")
    if retain_graph is None:
        retain_graph = create_graph
    gys = [root_gradient(out, g, create_graph) for out, g in zip(outputs, grad_outputs)]
    found = run_backward(outputs, gys, retain_graph, create_graph=create_graph, inputs=inputs)
    result = []
    for i, g in enumerate(found):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {tuple(inputs[i].shape)}) was not used to compute the "
                               f"outputs; pass allow_unused=True to get None for it")
        result.append(g if g is None or isinstance(g, Tensor) else Tensor._from_array(g))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """``torch.autograd.backward``: ``t.backward(g)`` for several tensors in one walk."""
    tensors = _as_list(tensors, "tensors")
    grad_tensors = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors, "grad_tensors")
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"backward: got {len(grad_tensors)} grad_tensors for {len(tensors)} tensors")
    if retain_graph is None:
        retain_graph = create_graph
    gys = [root_gradient(t, g, create_graph) for t, g in zip(tensors, grad_tensors)]
    run_backward(tensors, gys, retain_graph, create_graph=create_graph)


def Variable(tensor, requires_grad=False, volatile=False):
    """PyTorch's ``Variable`` (a no-op wrapper since PyTorch 0.4): the tensor itself, with requires_grad set
    when asked (``Variable(x)`` keeps x's flag, as PyTorch does)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"Variable: expected a Tensor, got {type(tensor).__name__}")
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _as_list(value, name):
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    if value is None:
        return [None]
    raise TypeError(f"grad: {name} must be a Tensor or a sequence of Tensors, got {type(value).__name__}")
