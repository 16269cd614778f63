"""What a user of the commands can get wrong, reported as one line on stderr and an exit code, never a traceback.

``CLIError`` carries the line and the code (2 for bad options, 1 for everything else); ``OneLineParser`` is
argparse that raises it for a bad option instead of printing the usage block. The commands turn it into
"<prog>: error: <line>" (tinygan/app/cli.py: ``main`` for the examples, ``run_command`` for the small ones).
"""
import argparse


class CLIError(Exception):
    """An error to report as one line on stderr, with an exit code."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr (exit 2) instead of the usage block."""

    def error(self, message):
        raise CLIError(f"{message} (see --help)", 2)


def check(ok, message):
    """A bad option (exit 2) saying ``message`` unless ``ok``."""
    if not ok:
        raise CLIError(message, 2)
