"""tinygan.optim: Adam, AdamW, SGD, RMSprop, Adadelta and Adagrad with PyTorch's names and updates, over flat
parameter buffers.

    opt = tinygan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.zero_grad(); loss.backward(); opt.step()

Modules: flat.py (the buffers and views), optimizer.py (the shared API), adam.py (Adam, AdamW), sgd.py,
rmsprop.py, adadelta.py, adagrad.py (one update each, as array ops and as a fused CuPy kernel), fused.py (the
optimizers' kernel switch; the wrapper, FusedKernel, is in tinygan/kernels.py), lr_scheduler.py (PyTorch's
learning-rate schedules).
"""
from tinygan.optim import lr_scheduler
from tinygan.optim.adadelta import Adadelta
from tinygan.optim.adagrad import Adagrad
from tinygan.optim.adam import Adam, AdamW
from tinygan.optim.optimizer import Optimizer
from tinygan.optim.rmsprop import RMSprop
from tinygan.optim.sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
