#!/usr/bin/env python3
"""Generate a deterministic TypeScript monorepo (npm workspaces + project references).

    gen-monorepo.py --out DIR --lines N --packages K --seed S [--lockfile] [--git] [--force]

Thin entry point: the generator lives in the ``genmono`` package next to this file (see its
docstring for what the tree contains).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from genmono import main

if __name__ == "__main__":
    sys.exit(main())
