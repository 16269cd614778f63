"""The fully connected layer as one fused op: y = x @ W^T + b.

Fusing the product and the bias into one Function keeps the GAN's hot path to one node and one matrix
product per direction, instead of a transpose node, a matmul node and a broadcasting add node.
"""
from tinygan.core.function import Function
from tinygan.ops import on_both


class Linear(Function):
    """y = x @ W^T + b;  gx = gy @ W,  gW = gy^T @ x (summed over leading axes),  gb = sum(gy)

    W is (out_features, in_features) as in PyTorch; x is (..., in_features), including 1-D (in_features,).
    The backward runs on arrays and on Tensors (create_graph) alike.
    """
    backward_on_tensors = True

    def forward(self, x, W, b=None):
        x2 = x.reshape(-1, x.shape[-1])                          # (..., in) -> (M, in)
        y = x2 @ W.T                                             # (M, in) @ (in, out) -> (M, out)
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (W.shape[0],))           # (M, out) -> (..., out)

    def backward(self, gy):
        x, W = self.saved_inputs()[:2]
        needs = self.needs_input_grad
        gy2 = gy.reshape(-1, gy.shape[-1])                       # (..., out) -> (M, out)
        gx = gW = gb = None
        if needs[0]:
            if W.shape[0] == 1:
                # one output (a discriminator's logit): gy @ W would be a K = 1 GEMM, slow in BLAS; the
                # broadcast outer product gives the same numbers (one product per element, nothing summed)
                gx = (gy2 * W).reshape(x.shape)                  # (M, 1) * (1, in) -> (..., in)
            else:
                gx = (gy2 @ W).reshape(x.shape)                  # (M, out) @ (out, in) -> (..., in)
        if needs[1]:
            gW = gy2.T @ x.reshape(-1, x.shape[-1])              # (out, M) @ (M, in) -> (out, in)
        if len(needs) > 2 and needs[2]:
            gb = on_both.sum(gy2, 0)                             # (M, out) -> (out,)
        return gx, gW, gb


def check_weight_dtype(op, x, W):
    """Refuse an input whose dtype differs from the weight's, as PyTorch does (silently promoting a float32
    model to float64 would train it 3x slower); linear, conv and batch norm share this check."""
    if x.dtype != W.dtype:
        raise TypeError(f"{op}: input is {x.dtype} but weight is {W.dtype}; convert the input "
                        f"(.float() for float32) or the model (.double()) so both match")


def check_linear_shapes(x, W, b):
    """Raise a clear error when x, W and b cannot form x @ W^T + b."""
    if W.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(W.shape)}")
    if x.ndim == 0:
        raise ValueError("linear: input must have at least 1 dimension (..., in_features), got a scalar")
    check_weight_dtype("linear", x, W)
    if x.shape[-1] != W.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(x.shape)} has {x.shape[-1]} features but weight of "
                         f"shape {tuple(W.shape)} expects in_features={W.shape[1]}")
    if b is not None and tuple(b.shape) != (W.shape[0],):
        raise ValueError(f"linear: bias must have shape ({W.shape[0]},) to match weight of shape "
                         f"{tuple(W.shape)}, got {tuple(b.shape)}")
