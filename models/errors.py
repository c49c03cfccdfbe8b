"""The one error hierarchy of the domain: readable messages for views, CLI and importers."""


class DomainError(Exception):
    """A refusal a person can read; views flash it, the CLI exits non-zero with it."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    """The row does not exist or is outside the actor's scope."""


class NotAllowed(DomainError):
    """The actor's role may not do this."""


class InvalidState(DomainError):
    """The row is not in a state the action starts from."""


class GuardFailed(DomainError):
    """A rule of the transition refused the row."""


class QuotaExceeded(DomainError):
    """A VIP/staff quota or the co-payment budget would be exceeded."""


class InvalidParameter(DomainError):
    """A parameter of the action is missing or wrong."""
