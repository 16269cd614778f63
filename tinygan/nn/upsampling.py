"""Upsample, UpsamplingNearest2d and UpsamplingBilinear2d: F.interpolate as layers (the arithmetic and the
argument checks live in tinygan/ops/resize.py; an error there is re-raised with the layer's name in front).

As in PyTorch, the layer keeps size as given and scale_factor as float(s), and its repr shows whichever
of the two was given and the mode: ``Upsample(scale_factor=2.0, mode='nearest')``.
"""
from tinygan import functional as F
from tinygan.nn.module import Module, call_naming_errors, check_input
from tinygan.ops.resize import check_mode


class Upsample(Module):
    """Resize (N, C, H, W) images to ``size`` or by ``scale_factor``: modes "nearest" (the default; integer
    factors take a fast path), "nearest-exact" and "bilinear" (align_corners False or True)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        check_mode(type(self).__name__, mode, align_corners)      # fail here, not at the first call
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        check_input(self, x, lambda x: x.ndim == 4, "(N, C, H, W)")
        return call_naming_errors(self, F.interpolate, x, self.size, self.scale_factor, self.mode,
                                  self.align_corners, recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode="nearest"."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode="bilinear" and align_corners=True (PyTorch's choice for this class)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
