# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Helpers around the indexes that need nothing beyond NumPy (no peer libraries)."""
