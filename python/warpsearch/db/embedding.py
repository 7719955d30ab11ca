# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Text in, vectors out: the ``embedding=`` of a collection.

An embedding is a callable taking a list of strings and returning one vector per
string (a 2-D array-like), or the name of a sentence-transformers model, loaded
on first use (so a collection opens without the model and without the package).
Only a name is kept in the collection's config; a callable is given again when
the collection is reopened.

Examples
--------
>>> import numpy as np
>>> emb = Embedding(lambda texts: np.array([[len(t), 1.0] for t in texts]))
>>> emb(["ab", "abc"], dim=2).tolist()
[[2.0, 1.0], [3.0, 1.0]]
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["Embedding", "as_embedding", "as_texts"]


class Embedding:
    """A text-to-vector function of a collection (see the module docstring)."""

    def __init__(self, fn):
        if isinstance(fn, str):
            if not fn.strip():
                raise ValueError("embedding: a model name must be non-empty")
            self.name, self._fn = fn, None
        elif callable(fn):
            self.name, self._fn = None, fn
        else:
            raise TypeError("embedding must be a callable (list of str -> vectors) or a "
                            f"sentence-transformers model name, got {type(fn).__name__}")
        self._mu = threading.Lock()

    def _load(self):
        with self._mu:
            if self._fn is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError:
                    raise ImportError(
                        f"embedding model {self.name!r} needs the sentence-transformers "
                        "package (pip install sentence-transformers), or give the "
                        "collection an embedding callable instead") from None
                model = SentenceTransformer(self.name)
                self._fn = lambda texts: model.encode(list(texts), convert_to_numpy=True)
            return self._fn

    def __call__(self, texts, dim: int) -> np.ndarray:
        """Vectors of ``texts`` (a list of str) as a float32 ``(len(texts), dim)`` array."""
        fn = self._fn if self._fn is not None else self._load()
        out = np.asarray(fn(list(texts)), dtype=np.float32)
        if out.ndim != 2 or out.shape != (len(texts), dim):
            raise ValueError(f"the embedding returned an array of shape {out.shape} for "
                             f"{len(texts)} texts; expected ({len(texts)}, {dim})")
        return out

    def __repr__(self) -> str:
        return f"Embedding({self.name!r})" if self.name else f"Embedding({self._fn!r})"


def as_embedding(value):
    """``None``, or an ``Embedding`` of a callable, model name or ``Embedding``."""
    if value is None or isinstance(value, Embedding):
        return value
    return Embedding(value)


def as_texts(texts, what: str = "texts") -> list:
    """A list of str from one str or a sequence of them."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, dict)) or not hasattr(texts, "__iter__"):
        raise TypeError(f"{what} must be a str or a sequence of str, got {type(texts).__name__}")
    out = list(texts)
    for t in out:
        if not isinstance(t, str):
            raise TypeError(f"{what} must be strings, got {type(t).__name__} ({t!r})")
    return out
