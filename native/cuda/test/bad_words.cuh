// A bad-index slot for the launcher tests (kernels/bad_index.h): the pair of device words the
// runtime gives embedding and cross_entropy, preset to INT64_MIN, and checks of what a launch left
// there: nothing (every index in range, or ignored), or the first bad position and its value.
// Included after harness.cuh.
#pragma once
#include <cstdint>
#include <string>

#include "bad_index.h"
#include "harness.cuh"

namespace kiln::cuda::test {

struct BadWords {
  DevBuf<int64_t> w{(size_t)bad_index::kWords};
  BadWords() { reset(); }
  void reset() { w.upload(std::vector<int64_t>(bad_index::kWords, bad_index::kNone)); }
  int64_t *p() { return w.p; }
  // Both words untouched.
  void expect_none(const std::string &what) const {
    const std::vector<int64_t> h = w.download();
    expect(what + " bad-index words untouched", h[0] == bad_index::kNone && h[1] == bad_index::kNone ? 0 : 1, 0);
  }
  // The first bad position `pos` and its value, exactly.
  void expect_first(const std::string &what, int64_t pos, int64_t value) const {
    const bad_index::First f = bad_index::decode(w.download().data());
    const bool ok = f.any && f.exact && f.pos == pos && f.value == value;
    if (!ok)
      std::printf(
          "{\"kind\":\"note\",\"what\":\"%s\",\"message\":\"want position %lld value %lld, got any %d exact %d "
          "position %lld value %lld\"}\n",
          what.c_str(), (long long)pos, (long long)value, (int)f.any, (int)f.exact, (long long)f.pos,
          (long long)f.value);
    expect(what + " first bad index", ok ? 0 : 1, 0);
  }
};

}  // namespace kiln::cuda::test
