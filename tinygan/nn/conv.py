"""Conv2d and ConvTranspose2d layers (the arithmetic and the shape checks live in tinygan/ops/conv.py, called
through F; an error there is re-raised with the layer's name in front).

``device=`` and ``dtype=`` place and type the parameters, as PyTorch's factory arguments. Weight shapes as
PyTorch: Conv2d (out_channels, in_channels, kH, kW); ConvTranspose2d
(in_channels, out_channels, kH, kW). Default init as PyTorch: kaiming_uniform_(a=sqrt(5)), i.e.
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] * kH * kW, and the bias from the same range.
"""
from tinygan import functional as F
from tinygan.ops.conv import check_output_padding, pair
from tinygan.nn import init
from tinygan.nn.module import Module, call_naming_errors, check_input, empty_parameter


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: parameters, init, the input check and the repr."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, transposed,
                 dilation, groups, bias, padding_mode, device, dtype):
        super().__init__()
        name = type(self).__name__
        if pair(dilation, "dilation", name, 1) != (1, 1) or groups != 1 or padding_mode != "zeros":
            raise NotImplementedError(f"{name}: only dilation=1, groups=1 and padding_mode='zeros' are supported")
        if isinstance(padding, str):
            raise NotImplementedError(f"{name}: string padding ({padding!r}) is not supported; give an int or pair")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", name, 1)
        self.stride = pair(stride, "stride", name, 1)
        self.padding = pair(padding, "padding", name, 0)
        self.output_padding = pair(output_padding, "output_padding", name, 0)
        self.transposed = transposed
        check_output_padding(self.output_padding, self.stride, name)
        shape = (self.in_channels, self.out_channels) if transposed else (self.out_channels, self.in_channels)
        self.weight = empty_parameter(*shape, *self.kernel_size, device=device, dtype=dtype)
        if bias:
            self.bias = empty_parameter(self.out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def _check(self, x):
        check_input(self, x, lambda x: x.ndim == 4 and x.shape[1] == self.in_channels,
                    f"(N, {self.in_channels}, H, W)")

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D cross-correlation: (N, C_in, H, W) -> (N, C_out, H_out, W_out) with
    H_out = (H + 2 * padding - kH) // stride + 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, 0, False, dilation, groups,
                         bias, padding_mode, device, dtype)

    def forward(self, x):
        self._check(x)
        return call_naming_errors(self, F.conv2d, x, self.weight, self.bias, self.stride, self.padding)


class ConvTranspose2d(_ConvNd):
    """The transpose (gradient) of Conv2d: (N, C_in, H, W) -> (N, C_out, H_out, W_out) with
    H_out = (H - 1) * stride - 2 * padding + kH + output_padding."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, True, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, x):
        self._check(x)
        return call_naming_errors(self, F.conv_transpose2d, x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding)
