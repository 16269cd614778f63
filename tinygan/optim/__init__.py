"""tinygan.optim: Adam, SGD and RMSprop with PyTorch's names and updates, over flat parameter buffers.

    opt = tinygan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.zero_grad(); loss.backward(); opt.step()

Modules: flat.py (the buffers and views), optimizer.py (the shared API), adam.py, sgd.py, rmsprop.py (one
update each, as array ops and as a fused CuPy kernel), fused.py (the optimizers' kernel switch; the wrapper,
FusedKernel, is in tinygan/kernels.py), lr_scheduler.py (PyTorch's learning-rate schedules).
"""
from tinygan.optim import lr_scheduler
from tinygan.optim.adam import Adam
from tinygan.optim.optimizer import Optimizer
from tinygan.optim.rmsprop import RMSprop
from tinygan.optim.sgd import SGD

__all__ = ["Adam", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
