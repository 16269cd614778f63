"""tinygan: a small reverse-mode autodiff engine on NumPy or CuPy, with the layers to train GANs."""
__version__ = "0.1.0"

from tinygan.backend import (DeviceUnavailableError, device_available, get_default_device, manual_seed,
                             set_default_device, synchronize)
from tinygan.creation import (arange, float32, float64, full, full_like, ones, ones_like, rand, rand_like,
                              randn, randn_like, tensor, zeros, zeros_like)
from tinygan.functional import (abs, cat, clamp, exp, log, log_softmax, relu, sigmoid, softmax, softplus,
                                sqrt, stack, tanh)
from tinygan.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygan.serialization import CheckpointError, load, save
from tinygan.tensor import (AnomalyError, Function, Tensor, detect_anomaly, enable_grad, is_grad_enabled,
                            no_grad)

# the submodules people reach as attributes: tinygan.nn.Linear, tinygan.optim.Adam, tinygan.graph.to_dot
from tinygan import autograd, functional, graph, nn, optim, utils  # noqa: E402,F401
from tinygan.utils.data import Generator  # noqa: E402,F401  (torch.Generator: seeded shuffling and splitting)
