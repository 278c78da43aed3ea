// Helpers shared by the compiled recurrence loops (the sources are concatenated into one
// translation unit by rnnbench/engine/native.py, common.cpp first).
#include <torch/extension.h>

#include <algorithm>
#include <cmath>

namespace {


template <typename T>
inline T sigmoid(T x) {
  // Clamped so exp never overflows (-ffast-math assumes finite values: an inf would become NaN);
  // sigmoid(+-40) equals its limit to within double precision.
  x = x < T(-40) ? T(-40) : (x > T(40) ? T(40) : x);
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
inline T tanh_exp(T x) {
  // tanh through one exp so that the loop vectorizes. Clamped so exp never overflows (see
  // sigmoid); tanh(+-20) equals +-1 to within double precision.
  x = x < T(-20) ? T(-20) : (x > T(20) ? T(20) : x);
  return T(1) - T(2) / (std::exp(T(2) * x) + T(1));
}

// out (rows, cols; row-major) += in (rows, inner; row stride in_stride) @ w (inner, cols).
// Columns go in blocks of 64 held in registers across the whole inner loop (no stores inside).
template <typename T>
void matmul_accumulate(const T* __restrict__ in, int64_t in_stride, const T* __restrict__ w,
                       T* __restrict__ out, int64_t rows, int64_t inner, int64_t cols) {
  constexpr int64_t block = 64;
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict__ out_row = out + r * cols;
    const T* in_row = in + r * in_stride;
    int64_t start = 0;
    for (; start + block <= cols; start += block) {
      T acc[block];
      for (int64_t j = 0; j < block; ++j) acc[j] = out_row[start + j];
      for (int64_t k = 0; k < inner; ++k) {
        const T scale = in_row[k];
        const T* __restrict__ w_row = w + k * cols + start;
        for (int64_t j = 0; j < block; ++j) acc[j] += scale * w_row[j];
      }
      for (int64_t j = 0; j < block; ++j) out_row[start + j] = acc[j];
    }
    for (int64_t k = 0; start < cols && k < inner; ++k) {
      const T scale = in_row[k];
      const T* __restrict__ w_row = w + k * cols;
#pragma GCC ivdep
      for (int64_t j = start; j < cols; ++j) out_row[j] += scale * w_row[j];
    }
  }
}

// out (rows, cols; row stride out_stride) += in (rows, inner; row stride in_stride) @ w^T, w (cols, inner):
// dot products over contiguous rows, for the backward's d h = d a U^T.
template <typename T>
void matmul_transposed_accumulate(const T* __restrict__ in, int64_t in_stride,
                                  const T* __restrict__ w, T* __restrict__ out, int64_t rows,
                                  int64_t inner, int64_t cols, int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ in_row = in + r * in_stride;
    for (int64_t j = 0; j < cols; ++j) {
      const T* __restrict__ w_row = w + j * inner;
      T total = T(0);
#pragma GCC ivdep
      for (int64_t k = 0; k < inner; ++k) {
        total += in_row[k] * w_row[k];
      }
      out[r * out_stride + j] += total;
    }
  }
}

}  // namespace
