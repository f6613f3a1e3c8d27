"""The op table: every operation, one entry each, grouped by family.

Each public op is an `OpDef` instance; calling it is calling the `gc` function.
"""

from __future__ import annotations

from .base import OPS, OpDef, register  # noqa: F401
from .elementwise import *  # noqa: F401,F403
from .elementwise import abs, add, divide, equal, multiply, negative, power, subtract  # noqa
from .linalg import dot, matmul, outer, product_vjp  # noqa: F401
from .nn import cross_entropy, log_softmax, mse_loss, one_hot, softmax  # noqa: F401
from .reduce import (
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    prod_others,  # noqa: F401
    reduced_size,
    sum,
)
from . import control as _control  # noqa: F401  (cond, while_loop, fori_loop, scan)
from .grad_check import checked_grad  # noqa: F401
from .select import concatenate, getitem, index_grad, split_like, stack  # noqa: F401
from .shape import (
    astype,
    broadcast_like,
    broadcast_to,
    expand_dims,
    get,  # noqa: F401
    reshape,
    reshape_like,
    squeeze,
    stop_gradient,
    sum_to,
    transpose,
)
