"""The one exception the engine raises for anything a user can fix, and the exit codes (references/files.md)."""

EXIT_DONE = 0
EXIT_FAILED = 1  # asked and answered no: a metric missing, finalize declined or its checks failed
EXIT_REFUSED = 2  # a bad argument, value, file or state: one sentence on stderr
EXIT_LIMIT = 3  # run: max_iterations reached
EXIT_PROTECTED = 4  # run: the candidate changes a protected file; nothing was measured
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as a program killed by SIGPIPE: the reader of stdout stopped reading


class EngineError(Exception):
    """A problem the user can act on: its message is one sentence saying what and what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED):
        super().__init__(message)
        self.exit_code = exit_code
