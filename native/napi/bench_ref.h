// Bench-only references for `kiln bench gemm` (ts/bench/gemm.ts): OpenBLAS loaded at call time and a
// measured FMA peak. Nothing in kiln's ops uses them; see bench_ref.cpp.
#pragma once

#include <napi.h>

#include "kiln.h"

namespace kiln::napi {

// Adds `refBlas` and `fmaPeak` to the addon's exports. `ctx` checks sgemm's operands against kiln's
// blocks; it must outlive the environment's calls (addon.cpp's instance owns it).
void bench_ref_register(Napi::Env env, Napi::Object exports, kiln_context *ctx);

}  // namespace kiln::napi
