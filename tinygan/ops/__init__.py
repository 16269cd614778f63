"""The differentiable operations, one small Function class each, forward and backward side by side.

    arithmetic.py   + - * / ** @ with NumPy broadcasting
    elementwise.py  exp, log, sqrt, abs, clamp, tanh, sigmoid, relu, leaky_relu, softplus, cast
    reduction.py    sum, mean, max, min, var, softmax, log_softmax
    shape.py        reshape, transpose, cat, stack, broadcast_to, indexing, device moves
    linear.py       linear: x @ W^T + b as one fused op
    normalization.py batch_norm (training and evaluation)
    dropout.py      inverted dropout;  embedding.py  embedding lookup
    loss.py         fused losses: BCE with logits, BCE, MSE, NLL
"""
