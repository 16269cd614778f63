"""tinygan.nn: Module, Parameter, containers and layers, with PyTorch's names, argument orders, parameter
shapes, default initialisation and state_dict keys.

    from tinygan import nn
    G = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 784), nn.Tanh())
"""
from tinygan.nn import init, parallel
from tinygan.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
from tinygan.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from tinygan.nn.conv import Conv2d, ConvTranspose2d
from tinygan.nn.dropout import Dropout, Dropout2d
from tinygan.nn.embedding import Embedding
from tinygan.nn.linear import Flatten, Identity, Linear, Unflatten
from tinygan.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
                             NLLLoss, SmoothL1Loss)
from tinygan.nn.module import Module, Parameter
from tinygan.nn.normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                                      LayerNorm)
from tinygan.nn.padding import ConstantPad2d, ZeroPad2d
from tinygan.nn.parallel import DataParallel
from tinygan.nn.pixelshuffle import PixelShuffle, PixelUnshuffle
from tinygan.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from tinygan.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinygan.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = ["AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "ConstantPad2d", "Conv2d",
           "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Dropout2d", "ELU", "Embedding", "Flatten", "Identity",
           "L1Loss", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "ModuleList", "Parameter",
           "ReLU", "Sequential", "Sigmoid", "Softmax", "Softplus", "Tanh", "Unflatten", "Upsample",
           "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad2d", "init", "parallel", "DataParallel", "LayerNorm",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "ModuleDict",
           "ParameterDict", "ParameterList", "PixelShuffle", "PixelUnshuffle",
           "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
           "GELU", "SiLU", "HuberLoss", "KLDivLoss", "NLLLoss", "SmoothL1Loss"]

from tinygan.nn import utils  # noqa: E402,F401  (nn.utils.clip_grad_norm_; last: nn.utils may use the layers)
from tinygan.nn import functional  # noqa: E402,F401  (import torch.nn as nn; nn.functional.relu)
