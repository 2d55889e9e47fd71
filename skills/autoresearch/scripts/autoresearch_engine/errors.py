"""The one exception the engine raises for anything a user can fix."""


class EngineError(Exception):
    """A problem the user can act on: its message is one sentence saying what and what to do."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
