#!/usr/bin/env bash
# Build graphc's documentation with warnings as errors, then run the user guide's examples
# as doctests (sphinx.ext.doctest). Needs the docs extra: pip install -e ".[docs]".
# Output: docs/_build/html (open index.html). Exit status non-zero on any warning or
# failing example. Extra arguments go to both sphinx-build calls (e.g. -q, -j auto).
set -euo pipefail
cd "$(dirname "$0")"
python -m sphinx -W --keep-going -d _build/doctrees -b html "$@" . _build/html
python -m sphinx -W --keep-going -d _build/doctrees -b doctest "$@" . _build/doctest
