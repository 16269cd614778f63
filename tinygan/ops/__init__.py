"""The differentiable operations, one small Function class each, forward and backward side by side.

    arithmetic.py   + - * / ** @ with NumPy broadcasting
    elementwise.py  exp, log, sqrt, abs, clamp, tanh, sigmoid, relu, leaky_relu, softplus, cast
    reduction.py    sum, mean, max, min, var, softmax, log_softmax
    shape.py        reshape, transpose, cat, stack, broadcast_to, indexing, device moves
"""
