"""``tinygan.backend``: the public names of the array backend (tinygan/core/array_backend.py), the seeded
generators (tinygan/rng.py) and the allocator setting (tinygan/allocator.py) in one module, for code that imports
them from here (``from tinygan import backend``; ``backend.get_array_module(x)``).

Their state lives in those modules: a test that simulates CuPy sets ``tinygan.core.array_backend._cupy``.
"""
from tinygan.allocator import *  # noqa: F401,F403
from tinygan.core.array_backend import *  # noqa: F401,F403
from tinygan.rng import *  # noqa: F401,F403
