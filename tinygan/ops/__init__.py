"""The differentiable operations, one small Function class each, forward and backward side by side.

Each has ``backward(gy)`` on arrays (the first-order path) and ``backward_graph(gy)``, the same formula on
Tensors, which ``create_graph=True`` records so that a gradient can be differentiated again.

Every Function lives here; its PyTorch-style wrapper (argument checks, defaults) is in tinygan/functional.py.

    arithmetic.py   + - * / ** @ with NumPy broadcasting
    elementwise.py  exp, log, sqrt, abs, clamp, tanh, sigmoid, relu, leaky_relu, softplus, sin, cos, tan, silu,
                    gelu (with the normal CDF), cast
    reduction.py    sum, mean, max, min, var, logsumexp, softmax, log_softmax (and the p-norm, composed)
    shape.py        reshape, transpose, cat, stack, broadcast_to, indexing (and its adjoint), where, clone, moves
    indexing.py     gather, scatter, scatter_add, index_select, repeat_interleave along one axis
    linear.py       linear: x @ W^T + b as one fused op
    conv.py         conv2d and conv_transpose2d by im2col / col2im and one GEMM, each the other's backward
    pool.py         max_pool2d and avg_pool2d by strided windows, col2im as their backward
    adaptive_pool.py adaptive_avg_pool2d / adaptive_max_pool2d: PyTorch's windows, run by resize and indexing ops
    normalization.py batch_norm (training and evaluation), layer_norm; group_norm / instance_norm checks
    dropout.py      inverted dropout (elements or whole channels);  embedding.py  embedding lookup
    resize.py       interpolate: nearest (integer factors as a block copy) and bilinear, as two small matmuls
    pad.py          constant padding (negative amounts crop)
    loss.py         fused losses: BCE with logits, BCE, MSE, L1, Huber (smooth L1), KL divergence, NLL
    recurrent.py    one LSTM layer's whole time loop (forward, and backward through time) as one op
"""
