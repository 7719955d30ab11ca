# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Progress bars (``tqdm.auto``): shown where a person is watching (a terminal or a
Jupyter kernel) unless a call says otherwise with ``progress=True/False``."""

from __future__ import annotations

import contextlib
import sys

__all__ = ["watching", "progress_bar"]


def watching() -> bool:
    """Whether a person is likely watching: stderr is a terminal, or a Jupyter kernel
    runs this process."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _NoBar:
    def update(self, n=1):
        pass


@contextlib.contextmanager
def progress_bar(progress, long_enough: bool, total, desc: str, unit: str = "it"):
    """A tqdm bar when ``progress`` is True, or when it is None and the work is
    ``long_enough`` and someone is ``watching()``; else an object whose ``update``
    does nothing."""
    if progress is None:
        progress = long_enough and watching()
    if not progress:
        yield _NoBar()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit)
    try:
        yield bar
    finally:
        bar.close()
