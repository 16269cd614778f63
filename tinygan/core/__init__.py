"""The core of tinygan: reverse-mode automatic differentiation on NumPy or CuPy arrays.

Read it in this order, each file top to bottom:

    function.py       the recording switches (no_grad, ...) and Function: forward and backward of one op;
                      Function.apply runs forward and records the graph
    backward.py       the backward walk: the chain rule over the recorded graph, once per tensor
    tensor.py         Tensor: an array with a gradient and a creator, its operators (each one op's apply)
    array_backend.py  NumPy on "cpu", CuPy on "gpu": the array module of the data, devices

The ops themselves (Add, MatMul, Tanh, Conv2d, ...) are in tinygan/ops/; what PyTorch code needs beyond this
(in-place methods, legacy types, torch.cuda) is in tinygan/compat/. The core imports neither.
"""
from tinygan.core import array_backend  # noqa: F401
from tinygan.core.function import (AnomalyError, Function, NoSecondDerivativeError, detect_anomaly,  # noqa: F401
                                   enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad, set_grad_enabled)
from tinygan.core.backward import (FreedGraph, RemovableHandle, accumulate_grad, backward_pass,  # noqa: F401
                                   backward_step, check_versions, checked_gradients, graph_freed, root_gradient,
                                   topological_order)
from tinygan.core.tensor import (MaxResult, MinResult, Size, Tensor, array_of, constant,  # noqa: F401
                                 increment_version, shape_arg)
