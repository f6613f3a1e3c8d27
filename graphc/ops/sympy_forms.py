"""The sympy side of the elementwise ops, imported on first use.

An op's `sympy` fact names its sympy function (`sympy="sin"`); `SympyForm` looks the name up
here, then in sympy itself, when the sympy bridge first converts the op. So `import graphc`
never imports sympy: only simplification, printing and `to_sympy` do.
"""

from __future__ import annotations

import sympy as sp


def _function(name, derivative, rewrite_exp=None):
    """A sympy function that prints as `name(x)` and that sympy can differentiate (`fdiff`),
    for ops sympy has no function for; `rewrite_exp` gives `f.rewrite(sympy.exp)`."""
    fields = {
        "nargs": 1,
        "fdiff": lambda self, argindex=1: derivative(self.args[0]),
        "_eval_is_extended_real": lambda self: self.args[0].is_extended_real,
    }
    if rewrite_exp is not None:
        fields["_eval_rewrite_as_exp"] = lambda self, x, **kwargs: rewrite_exp(x)
    return type(name, (sp.Function,), fields)


sigmoid = _function(
    "sigmoid", lambda x: sigmoid(x) * (1 - sigmoid(x)), lambda x: 1 / (1 + sp.exp(-x))
)
# relu'(0) = 0, as the op's graph rule: Heaviside(0, 0) = 0.
relu = _function("relu", lambda x: sp.Heaviside(x, 0))
softplus = _function("softplus", lambda x: sigmoid(x), lambda x: sp.log(1 + sp.exp(x)))

_OWN = {
    "sigmoid": sigmoid,
    "relu": relu,
    "softplus": softplus,
    "log1p": lambda x: sp.log(1 + x),
    "expm1": lambda x: sp.exp(x) - 1,
}


def form(name: str):
    """The callable building an op's sympy expression from its arguments' expressions."""
    return _OWN.get(name) or getattr(sp, name)
