import numpy as np

import graphc as gc


def test_seed_dot_gradient():
    x = gc.var("x")
    y = 2 * gc.dot(x, x)
    f = gc.compile([x], [y, gc.grad(y, x)])
    value, grad = f(np.arange(4.0))
    assert value == 28.0
    np.testing.assert_array_equal(grad, [0.0, 4.0, 8.0, 12.0])
