"""Linear (y = x W^T + b), Identity, Flatten and Unflatten."""
import math

from tinygan import functional as F
from tinygan.nn import init
from tinygan.nn.module import Module, call_naming_errors, check_input, empty_parameter


class Identity(Module):
    """y = x (a placeholder layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) and b of shape (out_features,).

    Default init as PyTorch: W and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)). ``device=`` and ``dtype=``
    place and type the parameters, as PyTorch's factory arguments (positionally after ``bias`` too).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = empty_parameter(self.out_features, self.in_features, device=device, dtype=dtype)
        if bias:
            self.bias = empty_parameter(self.out_features, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        check_input(self, x, lambda x: x.ndim >= 1 and x.shape[-1] == self.in_features,
                    f"(..., {self.in_features})")
        return call_naming_errors(self, F.linear, x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def _error_name(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        def ok(x):
            n = max(x.ndim, 1)
            return -n <= self.start_dim < n and -n <= self.end_dim < n and \
                self.start_dim % n <= self.end_dim % n
        check_input(self, x, ok, f"with dimensions {self.start_dim}..{self.end_dim}")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: Unflatten(1, (128, 7, 7)) maps (N, 6272) to
    (N, 128, 7, 7). One entry of ``unflattened_size`` may be -1."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(int(n) for n in unflattened_size)
        if sum(n == -1 for n in self.unflattened_size) > 1 or any(n < -1 for n in self.unflattened_size):
            raise ValueError(f"Unflatten: unflattened_size {self.unflattened_size} may hold at most one -1 "
                             f"and no other negative size")

    def forward(self, x):
        known = math.prod(n for n in self.unflattened_size if n != -1)

        def ok(x):
            if not -x.ndim <= self.dim < x.ndim:
                return False
            size = x.shape[self.dim]
            return size == known or (-1 in self.unflattened_size and known > 0 and size % known == 0)
        check_input(self, x, ok, f"whose dimension {self.dim} splits into {self.unflattened_size}")
        dim = self.dim % x.ndim
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
