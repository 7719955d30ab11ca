# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Engine guards behind the Python checks: inputs the indexes refuse with a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws


def test_ivf_pq_search_before_train_raises():
    idx = ws.IVFPQIndex(8, nlist=4, nbits=4)
    q = np.ones((2, 8), np.float32)
    with pytest.raises(ValueError, match="not trained"):
        idx.search(q, k=3)
    with pytest.raises(ValueError, match="not trained"):
        idx.search(q[0], k=3, filter=np.array([1, 2]))
    # trained but empty: padded rows, as before
    idx.train(np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32))
    D, I = idx.search(q, k=3)
    assert (I == -1).all() and np.isposinf(D).all()
