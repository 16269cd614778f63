"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and AdaptiveMaxPool2d layers (the arithmetic and the argument checks live in tinygan/ops/pool.py, called
through F; an error there is re-raised with the layer's name in front).

As in PyTorch, the layers keep the arguments as given (kernel_size=2 stays 2, stride=None becomes
kernel_size), so the repr reads as the constructor call; the arguments are checked when the layer is built.
"""
from tinygan import functional as F
from tinygan.nn.module import Module, call_naming_errors, check_input
from tinygan.ops.pool import pool_arguments, unsupported


class _Pool2d(Module):
    """What MaxPool2d and AvgPool2d share: the stored arguments, the input check and the call through F."""

    def __init__(self, kernel_size, stride, padding):
        super().__init__()
        pool_arguments(type(self).__name__, kernel_size, stride, padding)   # fail here, not at the first call
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None and stride != []) else kernel_size
        self.padding = padding

    def _pool(self, x, fn, **kwargs):
        check_input(self, x, lambda x: x.ndim == 4, "(N, C, H, W)")
        return call_naming_errors(self, fn, x, self.kernel_size, self.stride, self.padding, **kwargs)


class MaxPool2d(_Pool2d):
    """Maximum of each kernel_size window: (N, C, H, W) -> (N, C, H_out, W_out) with
    H_out = (H + 2 * padding - kH) // stride + 1. Only dilation=1, return_indices=False, ceil_mode=False."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        unsupported("MaxPool2d", dilation=(dilation, 1), return_indices=(return_indices, False),
                    ceil_mode=(ceil_mode, False))
        super().__init__(kernel_size, stride, padding)
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x):
        return self._pool(x, F.max_pool2d)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(_Pool2d):
    """Mean of each kernel_size window: (N, C, H, W) -> (N, C, H_out, W_out), H_out as MaxPool2d's; padding
    counts in the mean when count_include_pad. Only ceil_mode=False, divisor_override=None."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        unsupported("AvgPool2d", ceil_mode=(ceil_mode, False), divisor_override=(divisor_override, None))
        super().__init__(kernel_size, stride, padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return self._pool(x, F.avg_pool2d, count_include_pad=self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool2d(Module):
    """What AdaptiveAvgPool2d and AdaptiveMaxPool2d share: output_size kept as given, the input check."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def _check(self, x):
        check_input(self, x, lambda x: x.ndim in (3, 4), "(N, C, H, W) or (C, H, W)")

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """Mean over windows drawn so that the output is output_size: (N, C, H, W) -> (N, C, OH, OW), window i
    of an axis covering [floor(i * H / OH), ceil((i + 1) * H / OH)); a None entry keeps that input size."""

    def forward(self, x):
        self._check(x)
        return call_naming_errors(self, F.adaptive_avg_pool2d, x, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """Maximum over AdaptiveAvgPool2d's windows; return_indices=True also returns the flat positions h * W + w
    of the maxima."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x):
        self._check(x)
        return call_naming_errors(self, F.adaptive_max_pool2d, x, self.output_size, self.return_indices)
