// The CUDA launch floor of a machine: an empty kernel launched 20,000 times on one stream
// (us/op), with and without cudaGetLastError. nvcc -O2 -arch=sm_90a -cudart static launch_floor.cu
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
__global__ void k(float *p) {
  if (threadIdx.x == 0) p[0] += 1.f;
}
int main() {
  float *p;
  cudaMalloc(&p, 4);
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  for (int i = 0; i < 2000; i++) k<<<1, 32, 0, s>>>(p);
  cudaStreamSynchronize(s);
  for (int r = 0; r < 3; r++) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20000; i++) {
      k<<<1, 32, 0, s>>>(p);
    }
    auto t1 = std::chrono::steady_clock::now();
    cudaStreamSynchronize(s);
    auto t2 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20000; i++) {
      k<<<1, 32, 0, s>>>(p);
      cudaGetLastError();
    }
    auto t3 = std::chrono::steady_clock::now();
    cudaStreamSynchronize(s);
    printf("launch only %.2f us/op; launch+getLastError %.2f us/op\n",
           std::chrono::duration<double, std::micro>(t1 - t0).count() / 20000,
           std::chrono::duration<double, std::micro>(t3 - t2).count() / 20000);
  }
}
