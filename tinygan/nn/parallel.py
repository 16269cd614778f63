"""``tinygan.nn.parallel``: PyTorch's ``data_parallel`` and ``DataParallel`` on tinygan's one device.

    if input.is_cuda and self.ngpu > 1:
        output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
    else:
        output = self.main(input)

tinygan runs a model on one device, so these run the module once on the whole batch; asking for more than one
device raises, saying so, instead of quietly using one.
"""
from tinygan.nn.module import Module

__all__ = ["DataParallel", "data_parallel"]


def _one_device(device_ids, name):
    """Check that ``device_ids`` names at most one device (None: the one tinygan uses)."""
    if device_ids is None:
        return
    ids = list(device_ids)
    if len(ids) > 1:
        raise ValueError(f"{name}: tinygan runs on one device, so it cannot split the batch over device_ids "
                         f"{ids}; pass one device id (or none) and the model runs whole on that device")


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``module(inputs)`` (``module(*inputs)`` for a tuple), as torch.nn.parallel.data_parallel on one device."""
    _one_device(device_ids, "data_parallel")
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))


class DataParallel(Module):
    """torch.nn.DataParallel on one device: calls the wrapped ``module`` (kept as ``.module``, so state_dict keys
    start with "module.", as PyTorch's)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        _one_device(device_ids, "DataParallel")
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device, self.dim = output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
