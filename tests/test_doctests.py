# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Runs the docstring examples of every warpsearch module.

Modules are found on disk (any ``.py`` file of the installed package whose text
has a ``>>>`` prompt), so a new module's examples are run without editing this
file. ``warpsearch`` and ``warpsearch.index`` are always included.
"""

from __future__ import annotations

import doctest
import importlib
import pathlib

import pytest
import warpsearch as ws

ALWAYS = ("warpsearch", "warpsearch.index")
# modules whose examples cannot run in the test environment, with the reason
EXCLUDE: dict[str, str] = {}


def _modules_with_examples() -> list[str]:
    root = pathlib.Path(ws.__file__).resolve().parent
    found = set(ALWAYS)
    for path in sorted(root.rglob("*.py")):
        if path.name == "__main__.py" or "tests" in path.relative_to(root).parts:
            continue
        if ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.add(".".join(("warpsearch",) + parts))
    return sorted(found)


MODULES = _modules_with_examples()


def test_core_modules_are_listed():
    assert set(ALWAYS) <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name, tmp_path, monkeypatch):
    if name in EXCLUDE:
        pytest.skip(EXCLUDE[name])
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional third-party dependency is missing
        if exc.name and exc.name.split(".")[0] != "warpsearch":
            pytest.skip(f"{name} needs {exc.name}")
        raise
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             raise_on_error=False, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    if name in ALWAYS:
        assert result.attempted > 0, f"{name} has no examples"
