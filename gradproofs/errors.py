"""The ways a statement or a call can fail."""

__all__ = ["Mismatch", "DerivationError", "InvalidArgument"]


class Mismatch(AssertionError):
    """An implementation disagrees with the reference or breaks a bound.

    The message names the smallest counterexample found, both values, and the
    worst absolute and relative error with where it occurred.
    """


class DerivationError(AssertionError):
    """A symbolic proof step did not close (SymPy could not show it)."""


class InvalidArgument(ValueError, TypeError):
    """A bad argument, refused before any work: the message names the argument and what it must be.

    Both a ValueError and a TypeError, so that either catches it, whichever the mistake is.
    """
