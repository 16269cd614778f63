"""The core of tinygan: reverse-mode automatic differentiation on NumPy or CuPy arrays.

    array_backend.py  NumPy on "cpu", CuPy on "gpu": the array module of the data, devices
"""
