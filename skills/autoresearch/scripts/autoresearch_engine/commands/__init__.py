"""The sub-commands of `autoresearch`, one module each; each module has `register(subparsers)`."""

from . import cancel, confidence, finalize, init, log, metrics, report, resume, revert, run, status

# the order of `autoresearch --help`
ALL = (init, run, log, revert, status, resume, confidence, cancel, metrics, report, finalize)
