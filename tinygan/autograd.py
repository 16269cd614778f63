"""``tinygan.autograd``: gradients as values (``grad``), higher-order gradients, and PyTorch's ``Variable``.

    g, = tinygan.autograd.grad(D(x).sum(), x, create_graph=True)   # dD/dx, itself differentiable
    penalty = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()        # WGAN-GP's gradient penalty
    penalty.backward()                                             # differentiates through g: d2D/dx dtheta

Both run the core's walk (``backward_pass`` in tinygan/core/backward.py) with their own ``step``:
``create_graph=True`` walks with recording on and ``recorded_step``, which calls each op's ``backward_graph``
instead of its ``backward``: the same formula on Tensors, so the backward pass is itself a recorded graph.
``grad`` walks with ``towards(inputs)``: only the part of the graph that leads to the inputs, and keeps their
gradients instead of adding leaves' into ``.grad``.
"""
from tinygan import autograd_function as function
from tinygan.autograd_function import Function, FunctionCtx, once_differentiable  # noqa: F401
from tinygan.core import (FreedGraph, NoSecondDerivativeError, Tensor, accumulate_grad, backward_pass,
                          backward_step, check_versions, checked_gradients, root_gradient, set_grad_enabled,
                          topological_order)

__all__ = ["Function", "FunctionCtx", "NoSecondDerivativeError", "Variable", "backward", "function", "grad",
           "once_differentiable"]


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
    step = towards(inputs, outputs, recorded_step if create_graph else backward_step)
    wanted, found = {id(t) for t in inputs}, {}
    with set_grad_enabled(create_graph):        # create_graph: the backward is recorded as it runs
        for tensor, g in backward_pass(outputs, gys, step, retain_graph):
            if id(tensor) in wanted:
                found[id(tensor)] = g            # returned; no .grad changes
    result = []
    for i, g in enumerate(found.get(id(t)) for t in inputs):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {tuple(inputs[i].shape)}) was not used to compute the "
                               f"outputs; pass allow_unused=True to get None for it")
        result.append(g if g is None or isinstance(g, Tensor) else Tensor.from_array(g))
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
    step = recorded_step if create_graph else backward_step
    with set_grad_enabled(create_graph):
        for tensor, g in backward_pass(tensors, gys, step, retain_graph):
            if tensor.is_leaf:
                accumulate_grad(tensor, g)


def recorded_step(fn, gy):
    """``fn.backward_graph(gy)``: the gradients of fn's inputs as Tensors, recorded (with recording on), so that
    they can be differentiated again."""
    if fn.saves_inputs:
        check_versions(fn)
    return checked_gradients(fn, fn.backward_graph(gy), "backward_graph")


def towards(inputs, roots, step):
    """``step`` limited to the part of the graph below ``roots`` that leads to ``inputs`` (for ``grad``): a
    Function from which no input is reached is skipped, and the others compute only the input gradients that
    lead to one (their ``needs_input_grad``, set for the call)."""
    leads = {id(t) for t in inputs}               # tensors from which an input is reached
    leading = set()                               # the Functions that made them
    for tensor in topological_order(roots):       # inputs before outputs: one pass settles every tensor
        fn = tensor._ctx
        if fn is not None and (isinstance(fn, FreedGraph) or any(id(p) in leads for p in fn.inputs)):
            leads.add(id(tensor))                 # a freed graph counts, so that walking it says it was freed
            leading.add(id(fn))

    def step_towards_inputs(fn, gy):
        if id(fn) not in leading:
            return ()
        needs = fn.needs_input_grad
        fn.needs_input_grad = tuple(n and id(p) in leads for n, p in zip(needs, fn.inputs))
        try:
            return step(fn, gy)
        finally:
            fn.needs_input_grad = needs
    return step_towards_inputs


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
