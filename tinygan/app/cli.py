"""The command line of the examples and of the small commands: ``main`` and ``run_command``.

examples/mnist_mlp_gan.py, examples/mnist_dcgan.py and examples/toy_2d_gan.py each call ``main(argv, arch)``
with their architecture ("mlp", "dcgan", "toy"); everything else is shared, in these modules of tinygan/app/:

    options.py     the options, --recipe, their checks, the run's config (and a resumed run's)
    run_folder.py  --out: refusing to overwrite a run, --overwrite's staging and swap, what a stopped run says
    checkpoint.py  saving and loading checkpoints
    factories.py   the device, the data, G and D with their optimizers, the lr schedulers
    training.py    the training loop and what it writes after every epoch

python -m tinygan.sample, python -m tinygan.evaluate and examples/gan_from_scratch.py run through
``run_command``.

Errors a user can cause (bad options, no GPU, missing or corrupt data, a loss that became NaN, a bad
checkpoint, a full disk) end the program with one line on stderr and a non-zero exit code, never a traceback:
2 for bad options (``CLIError(message, 2)``), 1 for everything else, 130 for Ctrl-C.

No run is ever lost: an --out folder that holds an earlier run is refused (continue that run with --resume,
or replace its outputs with --overwrite, which replaces only the files the examples write, and only once the
new run's first checkpoint is saved: until then the new run writes into a hidden folder in --out, so stopping
before it leaves the earlier run as it was), an --out that cannot be written is refused before any training,
and Ctrl-C or a NaN loss says which checkpoint, if any, holds the last complete epoch and how to resume from it.
"""
import sys

import numpy as np

from tinygan import allocator
from tinygan.app.errors import CLIError, OneLineParser  # noqa: F401  (OneLineParser: for the commands' parsers)
from tinygan.app.gan import NonFiniteLossError
from tinygan.app.options import apply_recipe, build_parser, validate
from tinygan.app.run_folder import RunState, interrupted_line, saved_line
from tinygan.app.training import train
from tinygan.core import array_backend as backend

PROGS = {"mlp": "mnist_mlp_gan.py", "dcgan": "mnist_dcgan.py", "toy": "toy_2d_gan.py"}


def run_command(prog, parser, body, argv=None, interrupted=None):
    """Parse ``argv`` and call ``body(args)``; what a user can cause ends as one line on stderr and an exit code
    (0 ok, 1 a run error, 2 bad options, 130 Ctrl-C). The small commands (python -m tinygan.sample, .evaluate,
    examples/gan_from_scratch.py) use it. ``interrupted(args)``: what Ctrl-C stopped and what was or was not
    written, for the line "<prog>: interrupted <that>" once the options are parsed."""
    args = None
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:       # --help
            return exc.code or 0
        body(args)
        return 0
    except KeyboardInterrupt:
        detail = interrupted(args) if interrupted is not None and args is not None else None
        print(f"{prog}: interrupted{' ' + detail if detail else ''}", file=sys.stderr)
        return 130
    except CLIError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except (backend.DeviceUnavailableError, OSError) as exc:
        print(f"{prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def main(argv=None, arch="mlp", prog=None):
    """Entry point of the examples: returns the exit code (0 ok, 1 run error, 2 bad options, 130 Ctrl-C)."""
    prog = prog or PROGS[arch]
    args, state = None, RunState()
    try:
        parser = build_parser(arch, prog)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:                   # --help
            return exc.code or 0
        apply_recipe(args, arch)
        validate(args, prog)
        allocator.keep_freed_memory()                 # no page faults on each step's fresh arrays
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # a NaN loss is reported below
            train(arch, args, prog, state)
        return 0
    except CLIError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except NonFiniteLossError as exc:
        print(f"{prog}: error: {exc}; {saved_line(state)}", file=sys.stderr)
        return 1
    except OSError as exc:                          # a disk that fills up or goes away while training
        print(f"{prog}: error: {' '.join(str(exc).split())}; {saved_line(state)}", file=sys.stderr)
        return 1
    except backend.DeviceUnavailableError as exc:
        print(f"{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args is None:
            print(f"{prog}: interrupted", file=sys.stderr)
        else:
            print(interrupted_line(prog, args, state), file=sys.stderr)
        return 130
