"""Undefined SymPy functions, for proofs that hold for every activation and cost at once.

A recurrence written with an undefined f and its derivative is compared with
plain ``sympy.diff`` of the unrolled network. SymPy writes f′ at an expression
A as ``Subs(Derivative(f(ξ), ξ), ξ, A)`` with a dummy ξ of its choosing (or as
``Derivative(f(A), A)`` when A is a symbol); :func:`canonical` rewrites every
such form as one applied function f′(A), so that equal terms cancel.
"""

from __future__ import annotations

__all__ = ["undefined", "canonical", "agree", "primed"]


def undefined(name: str):
    """(g, g′): an undefined function and its derivative as a callable on expressions."""
    import sympy

    g = sympy.Function(name)
    dummy = sympy.Symbol("xi")

    def gprime(argument):
        return sympy.Subs(sympy.Derivative(g(dummy), dummy), dummy, argument)

    return g, gprime


def _derivative_of_undefined(expr):
    """(f, A) when ``expr`` is a first derivative of an undefined f taken at A, else None."""
    import sympy
    from sympy.core.function import AppliedUndef

    if isinstance(expr, sympy.Subs) and isinstance(expr.expr, sympy.Derivative) and len(expr.variables) == 1:
        derivative, point = expr.expr, expr.point[0]
    elif isinstance(expr, sympy.Derivative):
        derivative, point = expr, None
    else:
        return None
    inner = derivative.expr
    if not (isinstance(inner, AppliedUndef) and len(derivative.variable_count) == 1
            and derivative.variable_count[0][1] == 1 and inner.args == (derivative.variables[0],)):
        return None
    return inner.func.__name__, derivative.variables[0] if point is None else point


def _prime_of_undefined(expr):
    """f′(A) for a first derivative of an undefined f taken at A, else None."""
    import sympy

    found = _derivative_of_undefined(expr)
    return None if found is None else sympy.Function(f"{found[0]}'")(found[1])


def canonical(expr):
    """``expr`` with every f′ written as one applied function f′(A)."""
    import sympy

    return sympy.sympify(expr).doit().replace(lambda e: _prime_of_undefined(e) is not None,
                                              _prime_of_undefined)


def primed(expr):
    """``expr`` as it reads on paper, for display: every f′ at A written f′(A), nothing evaluated.

    SymPy prints f′(A) as ``Subs(Derivative(f(ξ), ξ), ξ, A)``, a substitution into a dummy variable.
    """
    import sympy

    replacements = {}
    for node in sympy.preorder_traversal(expr):
        found = _derivative_of_undefined(node)
        if found is not None:
            replacements[node] = sympy.Function(rf"{found[0]}^{{\prime}}")(found[1])
    return expr.xreplace(replacements)  # outermost first: a Subs, not the Derivative inside it


def agree(plain, structured) -> bool:
    """Whether two expressions built from undefined functions are identical after expansion."""
    import sympy

    return sympy.expand(canonical(plain) - canonical(structured)) == 0
