"""PixelShuffle and PixelUnshuffle: move channels to space and back (sub-pixel convolution upsampling)."""
from tinygan import functional as F
from tinygan.nn.module import Module, call_naming_errors
from tinygan.ops.shape import shuffle_factor


class PixelShuffle(Module):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r) with r = upscale_factor."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = shuffle_factor("PixelShuffle", "upscale_factor", upscale_factor)

    def forward(self, x):
        return call_naming_errors(self, F.pixel_shuffle, x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W) with r = downscale_factor: PixelShuffle's inverse."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = shuffle_factor("PixelUnshuffle", "downscale_factor", downscale_factor)

    def forward(self, x):
        return call_naming_errors(self, F.pixel_unshuffle, x, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
