// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Emulator: bfloat16 lives with half in cuda_fp16.h. Tests only.
#include "cuda_fp16.h"
