"""The op table: every operation, one entry each, grouped by family.

Each public op is an `OpDef` instance; calling it is calling the `gc` function. The
control-flow ops (cond, while_loop, fori_loop, scan: `ops/control.py`) are built on tracing,
autodiff and codegen, a layer above this package: `graphc.control` registers them.
"""

from __future__ import annotations

import sys

from .. import dispatch as _dispatch  # noqa: F401  (installs `apply`: calling an op works)
from .. import mixin as _mixin

_mixin.install_ops(sys.modules[__name__])  # the array operators call this package's functions
from .base import OPS, OpDef, register  # noqa: F401
from .elementwise import *  # noqa: F401,F403
from .elementwise import abs, add, divide, equal, multiply, negative, power, subtract  # noqa
from .special import *  # noqa: F401,F403
from .special import round  # noqa: F401
from .linalg import dot, matmul, outer, product_vjp  # noqa: F401
from .linalg_inv import det, inv, slogdet, solve, solve_rule  # noqa: F401
from .linalg_decomp import cholesky, eigh  # noqa: F401
from .linalg_svd import svd  # noqa: F401
from .linalg_norm import norm  # noqa: F401
from .linalg_qr import qr  # noqa: F401
from .linalg_basic import (  # noqa: F401
    diag,
    diag_embed,
    diag_grad,
    diagonal,
    eye,
    eye_like,
    matrix_transpose,
    trace,
)
from .linalg_triangle import tril, triu  # noqa: F401
from .nn import cross_entropy, log_softmax, mse_loss, one_hot, softmax  # noqa: F401
from .reduce import (
    logsumexp,
    max,
    mean,
    min,
    prod,
    prod_others,  # noqa: F401
    reduced_size,
    size,
    std,
    sum,
    variance,
)
from .rearrange import (  # noqa: F401
    atleast_2d,
    flip,
    hstack,
    moveaxis,
    ravel,
    repeat,
    roll,
    split,
    swapaxes,
    tile,
    vstack,
)
from .sequence import cross, cumprod, cumsum, diff, linspace, sort, sorted_like  # noqa: F401
from .einsum import einsum, inner, kron, tensordot  # noqa: F401
from .grad_check import checked_grad  # noqa: F401
from .fused import fused, fused_loop  # noqa: F401
from .select import concatenate, getitem, index_grad, split_like, stack  # noqa: F401
from .take import take  # noqa: F401
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

# The ops' reference text (docstrings and examples), once every op is registered.
from . import docs_arithmetic, docs_arrays, docs_elementwise, docs_shapes  # noqa: F401,E402
