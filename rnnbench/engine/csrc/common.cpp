// Helpers shared by the compiled recurrence loops (the sources are concatenated into one
// translation unit by rnnbench/engine/native.py, common.cpp first).
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace {


// exp inlined as plain arithmetic so that the gate loops vectorize without libm calls (and without
// -ffast-math): Cephes' single-precision polynomial, ~1 ulp on the clamped range. NaN propagates
// (the clamps keep x when it is NaN); +-inf clamp to exp(+-88), which the gates saturate on.
inline float exp_inline(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);  // NaN stays NaN: std::max/min return x on NaN
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 127]
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// Double precision (tests, float64 runs) keeps libm's exp: exact, speed does not matter there.
inline double exp_inline(double x) { return std::exp(x); }

// exp on [-L, L] with L chosen so that a product of three results stays finite (float: e^87 max,
// double: e^600): the gate math shares one division among several sigmoids/tanhs. NaN propagates.
template <typename T>
inline T exp_bounded(T x) {
  constexpr T limit = sizeof(T) == 4 ? T(29) : T(200);
  x = x > limit ? limit : x;  // comparisons with NaN are false: NaN stays NaN
  x = x < -limit ? -limit : x;
  return exp_inline(x);
}

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + exp_inline(-x));
}

template <typename T>
inline T tanh_exp(T x) {
  // tanh through one exp so that the loop vectorizes; exact limits at +-inf.
  return T(1) - T(2) / (exp_inline(T(2) * x) + T(1));
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
