"""The two ways a statement can fail."""

__all__ = ["Mismatch", "DerivationError"]


class Mismatch(AssertionError):
    """An implementation disagrees with the reference or breaks a bound.

    The message names the smallest counterexample found, both values, and the
    worst absolute and relative error with where it occurred.
    """


class DerivationError(AssertionError):
    """A symbolic proof step did not close (SymPy could not show it)."""
