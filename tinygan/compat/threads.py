"""``torch.set_num_threads`` / ``torch.get_num_threads``: how many threads NumPy's BLAS uses (the matrix products
behind Linear and the convolutions' im2col), set at run time through threadpoolctl: NumPy has no API for it, and
the OMP/OPENBLAS_NUM_THREADS variables only count before NumPy is imported."""
_controller = None


def _blas():
    """threadpoolctl's handle on the BLAS libraries loaded in this process (found once, on first use)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController     # here: importing tinygan does not scan the libraries
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def set_num_threads(n):
    """Use ``n`` threads in BLAS from now on (torch.set_num_threads)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads expects a positive integer, got {n!r}")
    _blas().limit(limits=n)


def get_num_threads():
    """How many threads BLAS uses now (torch.get_num_threads); 1 where NumPy has no threaded BLAS."""
    return max((lib.num_threads for lib in _blas().lib_controllers), default=1)
