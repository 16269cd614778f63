"""The training application built on the engine: what trains, shows and samples GANs.

    data.py      MNIST / Fashion-MNIST on the device (the IDX files: tinygan/vision/idx.py), data errors in a line
    gan.py       the alternating training step, the GAN losses, feature matching, G's moving average, metrics
    graph_step.py  the training step recorded once as a CUDA graph and replayed (--cuda-graph)
    models.py    the example networks, rebuilt from a checkpoint's config (packing, minibatch std for D)
    augment.py   DiffAugment: differentiable translation and cutout of the batches D sees
    toy.py       the 2-D Gaussian mixtures and their mode metrics
    metrics.py   FLD (Frechet distance), classifier score, digit coverage, precision/recall, mode metrics
    judge.py     the LeNet-5 digit classifier whose shipped weights judge generated digits (features, p(y|x))
    plotting.py  sample grids, scatter plots, loss curves, GIFs, CSV tables
    cli.py       the commands' entry points: main() of the examples, run_command() of the small commands
    errors.py    CLIError and OneLineParser: a user's mistake as one line and an exit code
    options.py   the examples' options, --recipe, their checks, the run's config
    factories.py the device, the data, G and D with their optimizers, the lr schedulers, from a config
    training.py  the examples' training loop, progress bar, sample pictures, --eval-every, metrics tables
    checkpoint.py  saving and loading checkpoints, rebuilding a checkpoint's generator
    run_folder.py  --out: never overwriting a run, --overwrite's staging and swap, what a stopped run says
    sample.py    ``python -m tinygan.sample``: draw from a checkpoint
    evaluate.py  ``python -m tinygan.evaluate``: the metrics of a checkpoint's or a .npy's samples

The engine (tinygan.tensor, ops, functional, nn, optim) never imports from here.
"""
