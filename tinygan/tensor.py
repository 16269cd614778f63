"""``tinygan.tensor``: the core's names (Tensor, Function, no_grad, ...) under this module name too, for code that
imports them from here (``from tinygan.tensor import Tensor``). The code is in tinygan/core/."""
from tinygan.core import (AnomalyError, Function, MaxResult, MinResult, NoSecondDerivativeError,  # noqa: F401
                          RemovableHandle, Tensor, array_of, constant, detect_anomaly, enable_grad, graph_freed,
                          is_grad_enabled, no_grad, root_gradient, set_grad_enabled, shape_arg, topological_order)
