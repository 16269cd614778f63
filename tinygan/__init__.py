"""tinygan: a small reverse-mode autodiff engine on NumPy or CuPy, with the layers to train GANs.

The engine is tinygan/core/ (read it first); the ops it records are in tinygan/ops/; nn, optim and the graph
tools are built on them; tinygan/compat/ adds what PyTorch code expects; tinygan/app/ trains the GANs.
``import tinygan`` gives all of it under PyTorch's names.
"""
__version__ = "0.1.0"

from tinygan.core import (AnomalyError, Size, Tensor, detect_anomaly, enable_grad, is_grad_enabled, no_grad,
                          set_grad_enabled)
from tinygan.core.array_backend import (DeviceUnavailableError, device, device_available, get_default_device,
                                        set_default_device, synchronize)
from tinygan.rng import manual_seed

# the modules tinygan.backend and tinygan.tensor (the core's names, for code that imports them from there), loaded
# now: the name ``tensor`` then goes to the function that makes tensors, below, and a later
# ``from tinygan.tensor import Tensor`` cannot take it back
from tinygan import backend, tensor  # noqa: F401
from tinygan.creation import (arange, as_tensor, bool_, double, empty, empty_like, eye, float16, float32, float64,
                              from_numpy, full, full_like, get_default_dtype, half, int8, int16, int32, int64,
                              linspace, long, normal, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                              randperm, set_default_dtype, short, tensor, uint8, zeros, zeros_like)
from tinygan.functional import (abs, cat, clamp, exp, log, log_softmax, relu, sigmoid, softmax, softplus,
                                sqrt, stack, tanh)
from tinygan.autograd_function import Function  # tinygan's op form and PyTorch's ctx form (autograd.Function)
from tinygan.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygan.serialization import CheckpointError, load, save

# PyTorch's names beyond the engine's: importing tinygan.compat adds its Tensor methods (compat/__init__.py)
from tinygan.compat.legacy_types import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,
                                         IntTensor, LongTensor, ShortTensor)
from tinygan.compat.threads import get_num_threads, set_num_threads
from tinygan.compat.more_tensor_ops import (all, any, diag, dot, eq, ge, gt, le, lt, matrix_power, ne, remainder,
                                            sort, true_divide, unique)
from tinygan.compat.tensor_functions import (add, allclose, argmax, argmin, bmm, chunk, clone, cos, div, expm1,
                                             flatten, flip, gather, index_select, inference_mode, is_floating_point,
                                             is_tensor, isfinite, isinf, isnan, log1p, logsumexp, masked_fill, matmul,
                                             max, maximum, mean, min, minimum, mm, mul, neg, norm, numel, permute,
                                             pow, repeat_interleave, reshape, scatter, scatter_add, sin, split,
                                             square, squeeze, std, sub, sum, tan, tile, transpose, unbind, unsqueeze,
                                             var, where)

# the submodules people reach as attributes: tinygan.nn.Linear, tinygan.optim.Adam, tinygan.graph.to_dot
from tinygan import autograd, functional, graph, nn, optim, utils  # noqa: E402,F401
from tinygan.utils.data import Generator  # noqa: E402,F401  (torch.Generator: seeded shuffling and splitting)
from tinygan import backends, cuda  # noqa: E402,F401  (torch.backends.cudnn, torch.cuda)
from tinygan import accelerator  # noqa: E402,F401  (torch.accelerator)

# PyTorch's dtype names that are Python builtins' too: tinygan.float is float32, tinygan.int int32 (as torch's)
float, int, bool = float32, int32, bool_  # noqa: A001
