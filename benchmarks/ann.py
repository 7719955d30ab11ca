# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Recall/QPS comparison with peer libraries on a real dataset.

A thin wrapper over :mod:`warpsearch.bench` (same options)::

    python benchmarks/ann.py /path/to/sift-dev.npz --threads 1,2 --markdown out.md

Run it on a quiet machine: other load changes the timings. ``OMP_WAIT_POLICY``
is set to ``PASSIVE`` unless already set (see :mod:`warpsearch.bench`).
"""

import sys

from warpsearch.bench import main

if __name__ == "__main__":
    sys.exit(main(prog="python benchmarks/ann.py"))
