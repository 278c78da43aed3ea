// Peephole LSTM (Graves 2013) recurrence loops for CPU. No ATen call inside the time loop:
// the small per-step matmuls and the fused gate math are plain vectorized loops (exp via
// libmvec under -ffast-math), so each step costs a few microseconds instead of a dozen
// dispatched ops. Gate column blocks [i, f, g, o].
#include <torch/extension.h>

#include <algorithm>
#include <cmath>

namespace {

// One batch row of one step: row holds h U on entry and i, f, g, o on exit; a is a_t.
template <typename T>
void lstm_forward_row(T* __restrict__ row, const T* __restrict__ a, const T* __restrict__ peep,
                      const T* __restrict__ c_prev,
                      T* __restrict__ c_next, T* __restrict__ h_next, T* __restrict__ tanh_c,
                      int64_t size) {
#pragma GCC ivdep
  for (int64_t j = 0; j < size; ++j) {
    const T i = sigmoid(a[j] + row[j] + peep[j] * c_prev[j]);
    const T f = sigmoid(a[size + j] + row[size + j] + peep[size + j] * c_prev[j]);
    const T g = tanh_exp(a[2 * size + j] + row[2 * size + j]);
    const T c = f * c_prev[j] + i * g;
    const T o = sigmoid(a[3 * size + j] + row[3 * size + j] + peep[2 * size + j] * c);
    const T tc = tanh_exp(c);
    row[j] = i;
    row[size + j] = f;
    row[2 * size + j] = g;
    row[3 * size + j] = o;
    c_next[j] = c;
    tanh_c[j] = tc;
    h_next[j] = o * tc;
  }
}

// One batch row of one backward step. dh: total d loss / d h_t; carry: d loss / d c_{t+1} times
// d c_{t+1} / d c_t on entry, the same for step t on exit; dpeep accumulates the peephole grads.
template <typename T>
void lstm_backward_row(const T* __restrict__ row, const T* __restrict__ peep,
                       const T* __restrict__ c_prev, const T* __restrict__ c_now,
                       const T* __restrict__ tanh_c, const T* __restrict__ dh,
                       T* __restrict__ carry, T* __restrict__ drow, T* __restrict__ dpeep,
                       int64_t size) {
#pragma GCC ivdep
  for (int64_t j = 0; j < size; ++j) {
    const T i = row[j], f = row[size + j], g = row[2 * size + j], o = row[3 * size + j];
    const T d_o = dh[j] * tanh_c[j] * o * (T(1) - o);
    const T dc = carry[j] + dh[j] * o * (T(1) - tanh_c[j] * tanh_c[j]) + d_o * peep[2 * size + j];
    const T d_i = dc * g * i * (T(1) - i);
    const T d_f = dc * c_prev[j] * f * (T(1) - f);
    drow[j] = d_i;
    drow[size + j] = d_f;
    drow[2 * size + j] = dc * i * (T(1) - g * g);
    drow[3 * size + j] = d_o;
    carry[j] = dc * f + d_i * peep[j] + d_f * peep[size + j];
    dpeep[j] += d_i * c_prev[j];
    dpeep[size + j] += d_f * c_prev[j];
    dpeep[2 * size + j] += d_o * c_now[j];
  }
}

// x_proj (B, T, 4H) batch-major; gates (T, B, 4H) receives the activations.
template <typename T>
void lstm_forward_loop(const at::Tensor& x_proj, at::Tensor& gates, const at::Tensor& recurrent,
                       const at::Tensor& peephole, at::Tensor& states, at::Tensor& cells,
                       at::Tensor& tanh_cells) {
  const int64_t steps = gates.size(0), batch = gates.size(1), size = recurrent.size(0);
  const T* x_data = x_proj.data_ptr<T>();
  const T* weight = recurrent.data_ptr<T>();
  const int64_t plane = batch * size;
  const T* peep = peephole.data_ptr<T>();
  T* gate_data = gates.data_ptr<T>();
  T* state_data = states.data_ptr<T>();
  T* cell_data = cells.data_ptr<T>();
  T* tanh_data = tanh_cells.data_ptr<T>();
  for (int64_t t = 0; t < steps; ++t) {
    T* gate_t = gate_data + t * batch * 4 * size;
    std::fill(gate_t, gate_t + batch * 4 * size, T(0));
    if (t > 0) {
      matmul_accumulate<T>(state_data + t * plane, size, weight, gate_t, batch, size, 4 * size);
    }
    for (int64_t b = 0; b < batch; ++b) {
      lstm_forward_row<T>(gate_data + (t * batch + b) * 4 * size,
                          x_data + (b * steps + t) * 4 * size, peep,
                          cell_data + t * plane + b * size, cell_data + (t + 1) * plane + b * size,
                          state_data + (t + 1) * plane + b * size, tanh_data + t * plane + b * size,
                          size);
    }
  }
}

template <typename T>
void lstm_backward_loop(const at::Tensor& gates, const at::Tensor& cells,
                        const at::Tensor& tanh_cells, const at::Tensor& grad_hidden,
                        const at::Tensor& recurrent, const at::Tensor& peephole,
                        at::Tensor& grad_pre, at::Tensor& grad_peephole) {
  // grad_pre is batch-major (B, T, 4H), ready to be the gradient of x_proj.
  const int64_t steps = gates.size(0), batch = gates.size(1), size = recurrent.size(0);
  const int64_t plane = batch * size;
  const T* peep = peephole.data_ptr<T>();
  T* dpeep = grad_peephole.data_ptr<T>();
  at::Tensor grad_state = at::empty({batch, size}, gates.options());
  at::Tensor carry = at::zeros({batch, size}, gates.options());
  const T* weight = recurrent.data_ptr<T>();
  const T* grad_in = grad_hidden.data_ptr<T>();
  T* dh = grad_state.data_ptr<T>();
  T* carry_data = carry.data_ptr<T>();
  const T* gate_data = gates.data_ptr<T>();
  const T* cell_data = cells.data_ptr<T>();
  const T* tanh_data = tanh_cells.data_ptr<T>();
  T* grad_data = grad_pre.data_ptr<T>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    std::copy(grad_in + t * plane, grad_in + (t + 1) * plane, dh);
    if (t < steps - 1) {
      matmul_transposed_accumulate<T>(grad_data + (t + 1) * 4 * size, steps * 4 * size, weight,
                                      dh, batch, 4 * size, size, size);
    }
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t offset = b * size;
      lstm_backward_row<T>(gate_data + (t * batch + b) * 4 * size, peep,
                           cell_data + t * plane + offset, cell_data + (t + 1) * plane + offset,
                           tanh_data + t * plane + offset, dh + offset, carry_data + offset,
                           grad_data + (b * steps + t) * 4 * size, dpeep, size);
    }
  }
}

}  // namespace

void lstm_forward(at::Tensor x_proj, at::Tensor gates, at::Tensor recurrent, at::Tensor peephole,
                  at::Tensor states, at::Tensor cells, at::Tensor tanh_cells) {
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_forward", [&] {
    lstm_forward_loop<scalar_t>(x_proj, gates, recurrent, peephole, states, cells, tanh_cells);
  });
}

void lstm_backward(at::Tensor gates, at::Tensor cells, at::Tensor tanh_cells,
                   at::Tensor grad_hidden, at::Tensor recurrent, at::Tensor peephole,
                   at::Tensor grad_pre, at::Tensor grad_peephole) {
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_backward", [&] {
    lstm_backward_loop<scalar_t>(gates, cells, tanh_cells, grad_hidden, recurrent, peephole,
                                 grad_pre, grad_peephole);
  });
}
