// Status expectations for the launcher tests that report a failed launch's message as a note
// (nn_test.cu, pool_test.cu); included after harness.cuh.
#pragma once
#include <cstdio>
#include <string>

#include "harness.cuh"

namespace kiln::cuda::test {

inline void expect_status(const std::string &what, kiln_status got, kiln_status want) {
  expect(what + " status " + std::to_string((int)got) + " want " + std::to_string((int)want), got == want ? 0 : 1, 0);
}
inline void expect_ok(const std::string &what, kiln_status st) {
  if (st != KILN_OK)
    std::printf("{\"kind\":\"note\",\"what\":\"%s\",\"message\":\"%s\"}\n", what.c_str(), launch().message);
  expect_status(what, st, KILN_OK);
}

}  // namespace kiln::cuda::test
