# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""warpsearch as the vector store of other frameworks.

- ``warpsearch.integrations.langchain.WarpsearchVectorStore``: a LangChain
  ``VectorStore`` (``pip install 'warpsearch[langchain]'``);
- ``warpsearch.integrations.llama_index.WarpsearchVectorStore``: a LlamaIndex
  vector store (``pip install 'warpsearch[llama-index]'``).

Both keep their points in a warpsearch collection of an embedded database (a
directory) or of a server (an ``http://`` URL), chosen by what is passed as
``connection``. Importing this package imports neither framework.
"""

__all__: list = []
