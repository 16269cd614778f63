"""The training application built on the engine: what trains, shows and samples GANs.

    data.py      MNIST / Fashion-MNIST on the device (the IDX files: tinygan/vision/idx.py)
    gan.py       the alternating training step, the GAN losses, feature matching, G's moving average, metrics
    graph_step.py  the training step recorded once as a CUDA graph and replayed (--cuda-graph)
    models.py    the example networks, rebuilt from a checkpoint's config (packing, minibatch std for D)
    augment.py   DiffAugment: differentiable translation and cutout of the batches D sees
    toy.py       the 2-D Gaussian mixtures and their mode metrics
    metrics.py   FLD (Frechet distance), classifier score, digit coverage, precision/recall, mode metrics
    judge.py     the LeNet-5 digit classifier whose shipped weights judge generated digits (features, p(y|x))
    plotting.py  sample grids, scatter plots, loss curves, GIFs, CSV tables
    cli.py       the examples' command line: options, checks, the loop, its outputs and checkpoints
    sample.py    ``python -m tinygan.sample``: draw from a checkpoint
    evaluate.py  ``python -m tinygan.evaluate``: the metrics of a checkpoint's or a .npy's samples

The engine (tinygan.tensor, ops, functional, nn, optim) never imports from here.
"""
