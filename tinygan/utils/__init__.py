"""tinygan.utils: helpers outside the engine and the layers, as torch.utils (data: datasets and the batch loader).

    from tinygan.utils.data import DataLoader, TensorDataset
"""
from tinygan.utils import data

__all__ = ["data"]
