"""Sphinx configuration of graphc's documentation (docs/build.sh builds it with -W).

The user guide is MyST Markdown; its examples are ``{doctest}`` blocks that
``sphinx-build -b doctest`` runs. The API reference is generated from the docstrings
(autodoc + napoleon, numpy style); its operations page is written at build time from the op
table (docs/ops_page.py), so an op added to graphc/ops/ is documented without editing docs/.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's graphc, not an installed one
sys.path.insert(0, str(HERE))

import ops_page  # noqa: E402

import graphc  # noqa: E402

project = "graphc"
author = "the graphc authors"
copyright = "2026, the graphc authors"
version = release = graphc.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# The generated backend list and table are included by other pages, not pages themselves.
exclude_patterns = ["_build", "build.sh", "api/backend_list.rst", "api/backend_table.md"]
root_doc = "index"
default_role = "literal"  # `name` in a docstring is code (a link would warn when ambiguous)

# Docstrings are numpy style (Parameters / Returns / Raises / Warns sections).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_custom_sections = [("Warns", "params_style")]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"

# Docstring types ("dtype", "Symbol") are cross-referenced by the Python domain; a type that
# names a member of several classes would warn as ambiguous. It links to the first.
suppress_warnings = ["ref.python"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Only the guide's {doctest} blocks run here: the docstrings' examples are run by
# tests/test_doctests.py (in each module's namespace), so plain >>> blocks are not re-run.
doctest_test_doctest_blocks = ""
# Examples of an optional backend say `:skipif: dask is None` (the extra's package).
doctest_global_setup = """
import importlib
import numpy as np
import graphc as gc

def _optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None

dask = _optional("dask")
numexpr = _optional("numexpr")
numba = _optional("numba")
"""
doctest_default_flags = (
    __import__("doctest").ELLIPSIS
    | __import__("doctest").NORMALIZE_WHITESPACE
    | __import__("doctest").DONT_ACCEPT_TRUE_FOR_1
)

html_theme = "alabaster"
html_title = f"graphc {release}"
html_theme_options = {
    "description": "Automatic differentiation you can see",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}


def setup(app):
    ops_page.write_pages(HERE / "api")
    app.connect("autodoc-process-signature", ops_page.op_signature)
    app.connect("autodoc-process-docstring", ops_page.op_docstring)
