# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""asv benchmark suites for warpsearch (see ../asv.conf.json)."""
