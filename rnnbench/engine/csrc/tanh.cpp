// tanh-RNN recurrence loops for CPU: h_{t+1} = tanh(a_t + h_t U). The per-step (B, H) @ (H, H)
// matmul keeps each row's H accumulators in registers (U zero-padded to whole 64-byte vectors),
// so a step costs a few microseconds with no ATen dispatch; tanh runs over the whole (B*H) plane.
#include <torch/extension.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace {

// out[b] (cols) = init[b] + in[b] (inner) @ w, w zero-padded to (inner, VECS vectors).
template <typename T, int VECS>
void rows_matmul_fixed(const T* __restrict__ init, int64_t init_stride, const T* __restrict__ in,
                       int64_t in_stride, const T* __restrict__ w, T* __restrict__ out,
                       int64_t out_stride, int64_t rows, int64_t inner, int64_t cols) {
  typedef T Vec __attribute__((vector_size(64)));
  constexpr int lanes = 64 / sizeof(T);
  constexpr int sets = VECS >= 6 ? 1 : (VECS >= 3 ? 2 : 4);
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
    RNNBENCH_ROWS(3)
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

// x_proj (B, T, H) batch-major; states (T+1, B, H) with states[0] = h_0 = 0 on entry.
template <typename T>
void tanh_forward_loop(const at::Tensor& x_proj, const at::Tensor& recurrent, at::Tensor& states) {
  const int64_t batch = x_proj.size(0), steps = x_proj.size(1), size = recurrent.size(0);
  const int64_t plane = batch * size;
  const std::vector<T> weight = pad_weight<T>(recurrent.data_ptr<T>(), size, size, false);
  const T* x_data = x_proj.data_ptr<T>();
  T* state_data = states.data_ptr<T>();
  for (int64_t t = 0; t < steps; ++t) {
    T* next = state_data + (t + 1) * plane;
    rows_matmul<T>(x_data + t * size, steps * size, state_data + t * plane, size, weight, next,
                   size, batch, size, size);
#pragma GCC ivdep
    for (int64_t n = 0; n < plane; ++n) next[n] = tanh_exp(next[n]);
  }
}

// grad_pre (T, B, H) time-major: d a_t = (d h_t + d a_{t+1} U^T) * (1 - h_{t+1}^2).
template <typename T>
void tanh_backward_loop(const at::Tensor& states, const at::Tensor& grad_hidden,
                        const at::Tensor& recurrent, at::Tensor& grad_pre) {
  const int64_t steps = grad_hidden.size(0), batch = grad_hidden.size(1);
  const int64_t size = recurrent.size(0), plane = batch * size;
  const std::vector<T> weight_t = pad_weight<T>(recurrent.data_ptr<T>(), size, size, true);
  const T* state_data = states.data_ptr<T>();
  const T* grad_in = grad_hidden.data_ptr<T>();
  T* grad_data = grad_pre.data_ptr<T>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    T* grad_t = grad_data + t * plane;
    if (t == steps - 1) {
      std::copy(grad_in + t * plane, grad_in + (t + 1) * plane, grad_t);
    } else {
      rows_matmul<T>(grad_in + t * plane, size, grad_data + (t + 1) * plane, size, weight_t,
                     grad_t, size, batch, size, size);
    }
    const T* hidden = state_data + (t + 1) * plane;
#pragma GCC ivdep
    for (int64_t n = 0; n < plane; ++n) grad_t[n] *= T(1) - hidden[n] * hidden[n];
  }
}

}  // namespace

void tanh_forward(at::Tensor x_proj, at::Tensor recurrent, at::Tensor states) {
  AT_DISPATCH_FLOATING_TYPES(states.scalar_type(), "tanh_forward", [&] {
    tanh_forward_loop<scalar_t>(x_proj, recurrent, states);
  });
}

void tanh_backward(at::Tensor states, at::Tensor grad_hidden, at::Tensor recurrent,
                   at::Tensor grad_pre) {
  AT_DISPATCH_FLOATING_TYPES(states.scalar_type(), "tanh_backward", [&] {
    tanh_backward_loop<scalar_t>(states, grad_hidden, recurrent, grad_pre);
  });
}
