"""``y.grad_fn`` read as PyTorch's autograd graph node: ``name()``, ``next_functions``, ``metadata``, hooks.

    loss.grad_fn                                   # <MSELoss>: the Function that made loss
    loss.grad_fn.name()                            # "MSELossBackward0": tinygan's op name + "Backward0"
    loss.grad_fn.next_functions                    # ((<Linear>, 0), (None, 0)): one (node, output index) per input
    loss.grad_fn.next_functions[0][0].next_functions[1][0].variable     # AccumulateGrad of a parameter: the leaf

Each input of a Function gives one pair: the Function that made it, an ``AccumulateGrad`` node (``.variable``
is the leaf) for a leaf that requires grad, or ``None`` for an input that needs no gradient, as in PyTorch.
``install_node_methods`` copies ``NodeMethods`` onto the core's Function (called once, by tinygan.compat).
"""
import weakref

from tinygan.core import FreedGraph, RemovableHandle, Tensor, array_of


class NodeMethods:
    """What PyTorch code reads on a ``grad_fn``, added to every Function."""

    def name(self):
        """PyTorch's node name: the op's name + "Backward0" (a custom Function's: its name + "Backward")."""
        op = self.op_name if isinstance(self, FreedGraph) else type(self).__name__
        return f"{op}Backward0"

    @property
    def next_functions(self):
        """One ``(node, output index)`` per input: its Function, its AccumulateGrad (a leaf that requires grad),
        or None (an input that needs no gradient). Empty once backward has freed the graph."""
        return tuple(edge_to(t) for t in self.inputs)

    def graph_edge(self):
        """The ``(node, output index)`` that ``next_functions`` shows for a tensor this Function made."""
        return (self, 0)

    @property
    def metadata(self):
        """A dict for anything the caller wants to keep on this node (PyTorch's ``grad_fn.metadata``)."""
        return self.__dict__.setdefault("node_metadata", {})

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` before this node's backward; it may return new grad_outputs (a tuple)."""
        return NodeHooks.of(self).add("pre", hook)

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` after this node's backward; it may return new grad_inputs."""
        return NodeHooks.of(self).add("post", hook)


def edge_to(tensor):
    """The ``next_functions`` entry for an input tensor."""
    if tensor.grad_fn is not None:
        return tensor.grad_fn.graph_edge()
    return (AccumulateGrad.of(tensor), 0) if tensor.requires_grad else (None, 0)


def install_node_methods(function_class):
    """Copy ``NodeMethods`` onto ``function_class`` (the core's Function): adds, never replaces."""
    for name, value in vars(NodeMethods).items():
        if name.startswith("__"):
            continue
        existing = vars(function_class).get(name)
        if existing is not None and existing is not value:
            raise TypeError(f"install_node_methods: {function_class.__name__}.{name} is the core's; the "
                            f"compatibility layer may add methods, not replace them")
        setattr(function_class, name, value)


# ==================================================================================================
# AccumulateGrad: the node PyTorch shows for a leaf
# ==================================================================================================
class AccumulateGrad:
    """The end of a walk down ``next_functions``: ``variable`` is the leaf whose ``.grad`` backward fills.
    One per leaf while it is held, so that two walks reaching one parameter meet in one node."""
    next_functions = ()
    _of_leaf = weakref.WeakValueDictionary()            # id(leaf) -> its node, while someone holds the node

    def __init__(self, variable):
        self.variable = variable

    @classmethod
    def of(cls, leaf):
        node = cls._of_leaf.get(id(leaf))
        if node is None:
            node = cls._of_leaf[id(leaf)] = cls(leaf)
        return node

    def name(self):
        return "AccumulateGrad"

    @property
    def metadata(self):
        return self.__dict__.setdefault("node_metadata", {})

    def register_hook(self, hook):
        raise NotImplementedError("AccumulateGrad.register_hook is not supported in tinygan: register the hook "
                                  "on the leaf itself, leaf.register_hook(fn)")

    register_prehook = register_hook

    def __repr__(self):
        return "<AccumulateGrad>"


# ==================================================================================================
# Hooks on a node
# ==================================================================================================
class NodeHooks:
    """A node's hooks. The first one registered wraps the node's backward methods (as instance attributes),
    so nodes without hooks cost the backward walk nothing."""

    def __init__(self):
        self.fns, self.next_key, self.running = {}, 0, False

    @classmethod
    def of(cls, node):
        if isinstance(node, FreedGraph):
            raise RuntimeError(f"{node.name()}: cannot register a hook on a node whose graph backward has freed")
        hooks = node.__dict__.get("node_hooks")
        if hooks is None:
            hooks = node.__dict__["node_hooks"] = cls()
            for method in ("backward", "backward_gpu", "backward_graph"):
                original = getattr(node, method)
                if original is not None:
                    node.__dict__[method] = hooks.wrap(original)
        return hooks

    def add(self, kind, hook):
        key, self.next_key = (kind, self.next_key), self.next_key + 1
        self.fns[key] = hook
        return RemovableHandle(self, key)

    def wrap(self, backward):
        def hooked(gy):
            if self.running:                       # backward_graph calling backward: hooks already ran
                return backward(gy)
            self.running = True
            try:
                recorded = isinstance(gy, Tensor)
                gy = self.run("pre", (gy,), recorded, (gy,))[0]
                gxs = backward(gy)
                return self.run("post", gxs if type(gxs) is tuple else (gxs,), recorded, (gy,))
            finally:
                self.running = False
        return hooked

    def run(self, kind, grads, recorded, grad_outputs):
        """Call the hooks of ``kind`` in order; a hook's returned tuple replaces ``grads``."""
        def as_tensors(values):
            return tuple(v if v is None or recorded else Tensor.from_array(v) for v in values)
        for (hook_kind, _), hook in list(self.fns.items()):
            if hook_kind != kind:
                continue
            out = hook(as_tensors(grads)) if kind == "pre" else hook(as_tensors(grads), as_tensors(grad_outputs))
            if out is None:
                continue
            out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            if len(out) != len(grads):
                raise RuntimeError(f"hook '{getattr(hook, '__name__', hook)}' returned {len(out)} gradients, "
                                   f"expected {len(grads)}")
            grads = out if recorded else tuple(array_of(g) for g in out)
        return grads
