"""Errors a user can cause: printed as one line, exit code 2."""

__all__ = ["UserError"]


class UserError(Exception):
    """A problem with the user's input or files."""
