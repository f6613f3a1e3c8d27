"""LaTeX conventions (graphc.tex): names as written, A x for @, x^\\top, \\odot for products of
known arrays, \\sigma, conventional names for the shape-generic steps, let-forms as an
`aligned` block, and `_repr_latex_` for Jupyter."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc

x, y, z = gc.var("x"), gc.var("y"), gc.var("z")
A = gc.var("A", shape=(3, 3))
v, w = gc.var("v", shape=(3,)), gc.var("w", shape=(3,))
W_in, alpha = gc.var("W_in"), gc.var("alpha")

CASES = [
    (lambda: gc.exp(x) / 2, r"\frac{e^{x}}{2}"),
    (lambda: A.T @ v, r"A^{\top} v"),
    (lambda: (A + A.T) @ v, r"\left(A + A^{\top}\right) v"),
    (lambda: v.T @ A @ v, r"v^{\top} A v"),
    (lambda: (A @ v) ** 2, r"\left(A v\right)^{2}"),
    (lambda: A.T**2, r"\left(A^{\top}\right)^{2}"),
    (lambda: v * gc.tanh(w), r"v \odot \tanh{\left(w \right)}"),
    (lambda: A.T @ (v * w), r"A^{\top} \left(v \odot w\right)"),
    (lambda: (A @ v) * w, r"\left(A v\right) \odot w"),
    (lambda: 2 * x * y, "2 x y"),  # shapes unknown: juxtaposition
    (
        lambda: gc.sigmoid(x) * (1 - gc.sigmoid(x)),
        r"\left(1 - \sigma\left(x\right)\right) \sigma\left(x\right)",
    ),
    (lambda: gc.sigmoid(x) ** 2, r"\sigma^{2}\left(x\right)"),
    (lambda: gc.softmax(z), r"\operatorname{softmax}\left(z\right)"),
    (lambda: gc.softmax(z, axis=0), r"\operatorname{softmax}\left(z, \text{axis}=0\right)"),
    (
        lambda: gc.log(gc.sum(gc.exp(z))),
        r"\log{\left(\operatorname{sum}\left(e^{z}\right) \right)}",
    ),
    (lambda: gc.grad(gc.mean(x * x), x), r"\frac{2 x}{n_{x}}"),
    (
        lambda: gc.grad(gc.sum(x * y), x),
        r"\operatorname{unbroadcast}_{x}\left(\operatorname{broadcast}_{x y}\left(y\right)\right)",
    ),
    (lambda: (x > 0) * y, r"y \left[x > 0\right]"),
    (lambda: gc.dot(v, w), r"v \cdot w"),
    (lambda: W_in * alpha + gc.abs(x), r"W_{in} \alpha + \left|{x}\right|"),
    (lambda: gc.maximum(x, y), r"\max\left(x, y\right)"),
    (lambda: x[1:3] + v[0], r"v_{[0]} + x_{[1:3]}"),
    (lambda: x * gc.const(np.full(3, 2.0)), "2 x"),  # a broadcast constant reads as its value
    (
        lambda: x + gc.const(np.array([[0.5, 1.0], [2.0, 3.0]])),
        r"x + \begin{bmatrix}\frac{1}{2} & 1 \\ 2 & 3\end{bmatrix}",
    ),
    (lambda: x + gc.const(np.arange(100.0)), r"x + \text{array of shape (100,)}"),
    (lambda: gc.Group([2 * x, gc.sin(y)]), r"\left(2 x, \sin{\left(y \right)}\right)"),
]


@pytest.mark.parametrize("build, expected", CASES)
def test_latex_conventions(build, expected):
    assert gc.latex(build()) == expected


def test_let_form_is_an_aligned_block_of_math():
    a, h0, x0, x1, x2 = (gc.var(n, shape=()) for n in ("a", "h0", "x0", "x1", "x2"))
    h = h0
    for xt in (x0, x1, x2):
        h = gc.tanh(a * h + xt)
    assert gc.latex(gc.grad(h, a)) == (
        r"\begin{aligned}"
        r"h_{1} &= \tanh{\left(a h_{0} + x_{0} \right)} \\ "
        r"h_{2} &= \tanh{\left(a h_{1} + x_{1} \right)} \\ "
        r"h_{3} &= \tanh{\left(a h_{2} + x_{2} \right)} \\ "
        r"&\phantom{=}\; \left(1 - h_{3}^{2}\right) \left(a^{2} h_{0} \left(1 - h_{1}^{2}\right) "
        r"\left(1 - h_{2}^{2}\right) + a h_{1} \left(1 - h_{2}^{2}\right) + h_{2}\right)"
        r"\end{aligned}"
    )


def test_repr_latex_renders_in_jupyter_and_eager_repr_is_unchanged():
    y = A.T @ v
    assert y._repr_latex_() == r"$A^{\top} v$"
    from graphc import eager

    t = eager.tensor(np.array([1.0, 2.0]))
    assert repr(t) == "tensor([1., 2.])" and not hasattr(t, "_repr_latex_")


def test_user_text_in_attrs_is_escaped():
    text = gc.latex(gc.astype(x, "float32"))
    assert r"\text{dtype}=\text{float32}" in text
