# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""WARPSEARCH_SIMD: the SIMD level forced at import, checked in fresh interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from warpsearch import _core

LEVELS = ["generic", "avx2", "avx512", "avx512_vnni"]  # lowest to highest

PROBE = (
    "import json, numpy as np, warpsearch as ws\n"
    "idx = ws.FlatIndex(dim=3)\n"
    "idx.add(np.eye(3, dtype=np.float32))\n"
    "D, I = idx.search(np.array([[0, 1, 0]], np.float32), k=1)\n"
    "print(json.dumps({'info': ws.build_info(), 'id': int(I[0, 0]), 'dist': float(D[0, 0])}))\n"
)


def _run(value: str | None, code: str = PROBE) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("WARPSEARCH_SIMD", None)
    if value is not None:
        env["WARPSEARCH_SIMD"] = value
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


def _supported() -> list[str]:
    best = _core.simd_best()
    return [lv for lv in LEVELS[: LEVELS.index(best) + 1] if lv in _core.simd_compiled()]


def test_best_level_is_compiled_and_used_without_the_variable():
    assert _core.simd_best() in _core.simd_compiled()
    out = _run(None)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)["info"]
    assert info["simd_level"] == info["simd_best"] == _core.simd_best()


@pytest.mark.parametrize("level", LEVELS)
def test_forced_level_shows_in_build_info_and_runs(level):
    if level not in _supported():
        pytest.skip(f"{level} is not supported by this CPU or build")
    for value in (level, ""):  # empty means unset: the best level
        out = _run(value)
        assert out.returncode == 0, out.stderr
        res = json.loads(out.stdout)
        assert res["info"]["simd_level"] == (level if value else _core.simd_best())
        assert res["info"]["simd_best"] == _core.simd_best()
        assert res["id"] == 1 and res["dist"] == 0.0


@pytest.mark.parametrize("value", ["sse9", "AVX2", "avx2 ", "native"])
def test_unknown_level_fails_the_import_with_its_name(value):
    out = _run(value)
    assert out.returncode != 0
    assert "ImportError" in out.stderr
    assert f"WARPSEARCH_SIMD: unknown SIMD level '{value}'" in out.stderr
    assert "expected generic, avx2, avx512 or avx512_vnni" in out.stderr
    assert "Traceback" in out.stderr  # a Python exception, not a crash
    assert out.returncode == 1


def test_unsupported_level_fails_the_import_with_its_name():
    unsupported = [lv for lv in LEVELS if lv not in _supported()]
    if not unsupported:
        pytest.skip("this CPU and build support every SIMD level")
    out = _run(unsupported[-1])
    assert out.returncode == 1
    assert "ImportError" in out.stderr
    assert f"SIMD level '{unsupported[-1]}' is not supported by this CPU or build" in out.stderr
    assert f"best here: {_core.simd_best()}" in out.stderr


def test_set_simd_level_still_works_after_a_forced_start():
    code = ("import warpsearch as ws\nfrom warpsearch import _core\n"
            "_core.set_simd_level('generic')\nprint(ws.build_info()['simd_level'])\n")
    out = _run(_supported()[-1], code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "generic"
