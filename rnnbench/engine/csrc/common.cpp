// Helpers shared by the compiled recurrence loops (the sources are concatenated into one
// translation unit by rnnbench/engine/native.py, common.cpp first).
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

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

// The per-step (rows, inner) @ (inner, cols) matmul of the recurrent loops (tanh-RNN and GRU
// forward and backward, the LSTM's backward): each row's cols accumulators stay in registers
// (w zero-padded to whole 64-byte vectors).
// out[b] (cols) = init[b] + in[b] (inner) @ w, w zero-padded to (inner, VECS vectors).
// SETS accumulator sets over the inner loop hide the FMA latency (SETS * VECS in flight).
template <typename T, int VECS, int SETS = (VECS >= 6 ? 1 : (VECS >= 3 ? 2 : 4))>
void rows_matmul_fixed(const T* __restrict__ init, int64_t init_stride, const T* __restrict__ in,
                       int64_t in_stride, const T* __restrict__ w, T* __restrict__ out,
                       int64_t out_stride, int64_t rows, int64_t inner, int64_t cols) {
  typedef T Vec __attribute__((vector_size(64)));
  constexpr int lanes = 64 / sizeof(T);
  constexpr int sets = SETS;
  for (int64_t r = 0; r < rows; ++r) {
    T flat[VECS * lanes] = {};
    std::copy(init + r * init_stride, init + r * init_stride + cols, flat);
    Vec acc[sets][VECS] = {};
    std::memcpy(&acc[0][0], flat, sizeof(flat));
    const T* in_row = in + r * in_stride;
    int64_t k = 0;
    for (; k + sets <= inner; k += sets) {
#pragma GCC unroll 4
      for (int s = 0; s < sets; ++s) {
        const T scale = in_row[k + s];
        const T* w_row = w + (k + s) * VECS * lanes;
#pragma GCC unroll 16
        for (int v = 0; v < VECS; ++v) {
          Vec weight;
          std::memcpy(&weight, w_row + v * lanes, sizeof(Vec));
          acc[s][v] += scale * weight;
        }
      }
    }
    for (; k < inner; ++k) {
      const T scale = in_row[k];
      const T* w_row = w + k * VECS * lanes;
#pragma GCC unroll 16
      for (int v = 0; v < VECS; ++v) {
        Vec weight;
        std::memcpy(&weight, w_row + v * lanes, sizeof(Vec));
        acc[0][v] += scale * weight;
      }
    }
#pragma GCC unroll 16
    for (int v = 0; v < VECS; ++v) {
      for (int s = 1; s < sets; ++s) acc[0][v] += acc[s][v];
    }
    std::memcpy(flat, &acc[0][0], sizeof(flat));
    std::copy(flat, flat + cols, out + r * out_stride);
  }
}

// The same without the register blocking, for widths past the dispatch table.
template <typename T>
void rows_matmul_generic(const T* init, int64_t init_stride, const T* in, int64_t in_stride,
                         const T* w, int64_t w_stride, T* out, int64_t out_stride, int64_t rows,
                         int64_t inner, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    T* out_row = out + r * out_stride;
    std::copy(init + r * init_stride, init + r * init_stride + cols, out_row);
    for (int64_t k = 0; k < inner; ++k) {
      const T scale = in[r * in_stride + k];
      const T* w_row = w + k * w_stride;
#pragma GCC ivdep
      for (int64_t j = 0; j < cols; ++j) out_row[j] += scale * w_row[j];
    }
  }
}

template <typename T>
int64_t padded_width(int64_t cols) {
  constexpr int64_t lanes = 64 / sizeof(T);
  return (cols + lanes - 1) / lanes * lanes;
}

// w (inner, cols) -> zero-padded (inner, padded_width(cols)); transpose: w given as (cols, inner).
template <typename T>
std::vector<T> pad_weight(const T* w, int64_t inner, int64_t cols, bool transpose) {
  const int64_t padded = padded_width<T>(cols);
  std::vector<T> out(inner * padded, T(0));
  for (int64_t k = 0; k < inner; ++k) {
    for (int64_t j = 0; j < cols; ++j) {
      out[k * padded + j] = transpose ? w[j * inner + k] : w[k * cols + j];
    }
  }
  return out;
}

template <typename T>
void rows_matmul(const T* init, int64_t init_stride, const T* in, int64_t in_stride,
                 const std::vector<T>& w, T* out, int64_t out_stride, int64_t rows, int64_t inner,
                 int64_t cols) {
  constexpr int64_t lanes = 64 / sizeof(T);
  const int64_t padded = padded_width<T>(cols);
#define RNNBENCH_ROWS(V)                                                                         \
  case V:                                                                                        \
    return rows_matmul_fixed<T, V>(init, init_stride, in, in_stride, w.data(), out, out_stride, \
                                   rows, inner, cols);
  switch (padded / lanes) {
    RNNBENCH_ROWS(1)
    RNNBENCH_ROWS(2)
    case 3:  // the LSTM backward (H = 36, inner 4H = 144): 12 accumulators measured 1.15x
             // torch-fused against 1.06x with 6; the tanh/GRU widths keep 6 (inner <= 2H)
      if (inner >= 128) {
        return rows_matmul_fixed<T, 3, 4>(init, init_stride, in, in_stride, w.data(), out,
                                          out_stride, rows, inner, cols);
      }
      return rows_matmul_fixed<T, 3>(init, init_stride, in, in_stride, w.data(), out, out_stride,
                                     rows, inner, cols);
    RNNBENCH_ROWS(4)
    RNNBENCH_ROWS(5)
    RNNBENCH_ROWS(6)
    RNNBENCH_ROWS(7)
    RNNBENCH_ROWS(8)
    default:
      return rows_matmul_generic<T>(init, init_stride, in, in_stride, w.data(), padded, out,
                                    out_stride, rows, inner, cols);
  }
#undef RNNBENCH_ROWS
}

}  // namespace
