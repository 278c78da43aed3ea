// GRU recurrence loops for CPU, the paper's variant (reset gate before the recurrent matmul):
//   [r, z] = sigmoid(a_rz + h U_rz),  n = tanh(a_n + (r * h) U_n),  h' = n + z * (h - n).
// Two dependent per-step matmuls, both common.cpp's register-blocked rows_matmul; no ATen call
// inside the time loop. Saved tensors keep the pure-torch path's layout (rnnbench/engine/gru.py),
// so either backward can follow either forward.
#include <torch/extension.h>

#include <algorithm>
#include <vector>

namespace {

// x_proj (B, T, 3H) batch-major. Fills, time-major: gates (T, B, 3H) with activations [r, z, n],
// states (T+1, B, H) (states[0] = h_0 = 0 on entry), reset_hidden = r * h_prev and
// state_minus_new = h_prev - n, both (T, B, H).
template <typename T>
void gru_forward_loop(const at::Tensor& x_proj, const at::Tensor& recurrent_rz,
                      const at::Tensor& recurrent_n, at::Tensor& gates, at::Tensor& states,
                      at::Tensor& reset_hidden, at::Tensor& state_minus_new) {
  const int64_t batch = x_proj.size(0), steps = x_proj.size(1), size = recurrent_n.size(0);
  const int64_t width = 3 * size, plane = batch * size;
  const std::vector<T> weight_rz = pad_weight<T>(recurrent_rz.data_ptr<T>(), size, 2 * size, false);
  const std::vector<T> weight_n = pad_weight<T>(recurrent_n.data_ptr<T>(), size, size, false);
  const T* x_data = x_proj.data_ptr<T>();
  T* gate_data = gates.data_ptr<T>();
  T* state_data = states.data_ptr<T>();
  T* reset_data = reset_hidden.data_ptr<T>();
  T* diff_data = state_minus_new.data_ptr<T>();
  for (int64_t t = 0; t < steps; ++t) {
    const T* previous = state_data + t * plane;
    T* gate_t = gate_data + t * batch * width;
    T* reset_t = reset_data + t * plane;
    rows_matmul<T>(x_data + t * width, steps * width, previous, size, weight_rz, gate_t, width,
                   batch, size, 2 * size);
    for (int64_t b = 0; b < batch; ++b) {
      T* row = gate_t + b * width;
#pragma GCC ivdep
      for (int64_t j = 0; j < 2 * size; ++j) row[j] = sigmoid(row[j]);
#pragma GCC ivdep
      for (int64_t j = 0; j < size; ++j) reset_t[b * size + j] = row[j] * previous[b * size + j];
    }
    rows_matmul<T>(x_data + t * width + 2 * size, steps * width, reset_t, size, weight_n,
                   gate_t + 2 * size, width, batch, size, size);
    T* next = state_data + (t + 1) * plane;
    T* diff_t = diff_data + t * plane;
    for (int64_t b = 0; b < batch; ++b) {
      T* row = gate_t + b * width;
#pragma GCC ivdep
      for (int64_t j = 0; j < size; ++j) {
        const T n = tanh_exp(row[2 * size + j]);
        const T diff = previous[b * size + j] - n;
        row[2 * size + j] = n;
        diff_t[b * size + j] = diff;
        next[b * size + j] = n + row[size + j] * diff;
      }
    }
  }
}

// grad_hidden (T, B, H) time-major; fills grad_pre (T, B, 3H) = [d a_r, d a_z, d a_n]:
//   d a_z = dh (h_prev - n) z (1 - z),  d a_n = dh (1 - z)(1 - n^2),
//   d(r h) = d a_n U_n^T,  d a_r = d(r h) h_prev r (1 - r),
//   dh_prev = grad_in[t-1] + dh z + d(r h) r + [d a_r, d a_z] U_rz^T.
template <typename T>
void gru_backward_loop(const at::Tensor& gates, const at::Tensor& states,
                       const at::Tensor& state_minus_new, const at::Tensor& grad_hidden,
                       const at::Tensor& recurrent_rz, const at::Tensor& recurrent_n,
                       at::Tensor& grad_pre) {
  const int64_t steps = gates.size(0), batch = gates.size(1), size = recurrent_n.size(0);
  const int64_t width = 3 * size, plane = batch * size;
  // Transposed and padded: U_n^T (H inner, H cols), U_rz^T (2H inner, H cols).
  const std::vector<T> weight_n_t = pad_weight<T>(recurrent_n.data_ptr<T>(), size, size, true);
  const std::vector<T> weight_rz_t =
      pad_weight<T>(recurrent_rz.data_ptr<T>(), 2 * size, size, true);
  const T* gate_data = gates.data_ptr<T>();
  const T* state_data = states.data_ptr<T>();
  const T* diff_data = state_minus_new.data_ptr<T>();
  const T* grad_in = grad_hidden.data_ptr<T>();
  T* grad_data = grad_pre.data_ptr<T>();
  std::vector<T> grad_state(grad_in + (steps - 1) * plane, grad_in + steps * plane);  // (B, H)
  std::vector<T> grad_reset_hidden(plane), carry(plane);  // (B, H) each
  const std::vector<T> zeros(size, T(0));
  for (int64_t t = steps - 1; t >= 0; --t) {
    const T* gate_t = gate_data + t * batch * width;
    const T* previous = state_data + t * plane;
    const T* diff_t = diff_data + t * plane;
    T* grad_t = grad_data + t * batch * width;
    for (int64_t b = 0; b < batch; ++b) {
      const T* row = gate_t + b * width;
      T* grad_row = grad_t + b * width;
      const T* dh = grad_state.data() + b * size;
#pragma GCC ivdep
      for (int64_t j = 0; j < size; ++j) {
        const T z = row[size + j], n = row[2 * size + j];
        grad_row[size + j] = dh[j] * diff_t[b * size + j] * z * (T(1) - z);
        grad_row[2 * size + j] = dh[j] * (T(1) - z) * (T(1) - n * n);
      }
    }
    rows_matmul<T>(zeros.data(), 0, grad_t + 2 * size, width, weight_n_t,
                   grad_reset_hidden.data(), size, batch, size, size);
    for (int64_t b = 0; b < batch; ++b) {
      const T* row = gate_t + b * width;
      T* grad_row = grad_t + b * width;
      const T* drh = grad_reset_hidden.data() + b * size;
#pragma GCC ivdep
      for (int64_t j = 0; j < size; ++j) {
        const T r = row[j];
        grad_row[j] = drh[j] * previous[b * size + j] * r * (T(1) - r);
      }
    }
    if (t == 0) break;
    const T* grad_below = grad_in + (t - 1) * plane;
    for (int64_t b = 0; b < batch; ++b) {
      const T* row = gate_t + b * width;
#pragma GCC ivdep
      for (int64_t j = 0; j < size; ++j) {
        const int64_t n = b * size + j;
        carry[n] = grad_below[n] + grad_state[n] * row[size + j] + grad_reset_hidden[n] * row[j];
      }
    }
    rows_matmul<T>(carry.data(), size, grad_t, width, weight_rz_t, grad_state.data(), size, batch,
                   2 * size, size);
  }
}

}  // namespace

void gru_forward(at::Tensor x_proj, at::Tensor recurrent_rz, at::Tensor recurrent_n,
                 at::Tensor gates, at::Tensor states, at::Tensor reset_hidden,
                 at::Tensor state_minus_new) {
  AT_DISPATCH_FLOATING_TYPES(states.scalar_type(), "gru_forward", [&] {
    gru_forward_loop<scalar_t>(x_proj, recurrent_rz, recurrent_n, gates, states, reset_hidden,
                               state_minus_new);
  });
}

void gru_backward(at::Tensor gates, at::Tensor states, at::Tensor state_minus_new,
                  at::Tensor grad_hidden, at::Tensor recurrent_rz, at::Tensor recurrent_n,
                  at::Tensor grad_pre) {
  AT_DISPATCH_FLOATING_TYPES(states.scalar_type(), "gru_backward", [&] {
    gru_backward_loop<scalar_t>(gates, states, state_minus_new, grad_hidden, recurrent_rz,
                                recurrent_n, grad_pre);
  });
}
