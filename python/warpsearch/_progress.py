# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Progress bars of long calls: ``progress=True`` / ``False`` / ``None`` (automatic:
shown only where a person is watching, a terminal or a Jupyter kernel)."""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["someone_watching", "show_progress", "progress_bar"]


def _in_jupyter_kernel() -> bool:
    if "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def someone_watching() -> bool:
    """True where progress bars are seen: stderr is a terminal, or a Jupyter kernel runs
    this code (its output goes to a notebook)."""
    if _in_jupyter_kernel():
        return True
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


def show_progress(progress) -> bool:
    """Whether to show a bar: ``progress`` itself when a bool, else (``None``) the
    automatic rule."""
    if progress is None:
        return someone_watching()
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or None (automatic), "
                        f"got {type(progress).__name__}")
    return bool(progress)


def progress_bar(progress, total: int, desc: str, unit: str = "vectors"):
    """A ``tqdm.auto`` bar (disabled, so a no-op, when no bar is to be shown)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not show_progress(progress))
