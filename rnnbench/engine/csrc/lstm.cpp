// Peephole LSTM (Graves 2013) recurrence loops for CPU. No ATen call inside the time loop.
// Saved gate activations are gate-major per step, (T, 4, B, H) with gates [i, f, g, o], so the
// gate math runs over whole (B*H) planes: full vectors, no per-row remainder. The recurrent
// matmuls are register-blocked when the row width is a compile-time size (the paper's H = 36),
// generic loops otherwise.
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

// Forward pre-activations of one step: gates_t[g][b][j] = a[b][t][g*H + j] + (h_t U)[b][g*H + j].
// COLS = 4H known at compile time: one row's 4H accumulators are explicit 64-byte vectors, all in
// registers over the k loop (a plain array gets spilled to the stack by GCC).
template <typename T, int COLS>
void lstm_preact_fixed(const T* __restrict__ a, int64_t a_stride, const T* __restrict__ h,
                       const T* __restrict__ w, T* __restrict__ out, int64_t batch, int64_t size) {
  typedef T Vec __attribute__((vector_size(64)));
  constexpr int lanes = 64 / sizeof(T);
  static_assert(COLS % lanes == 0, "COLS must fill whole vectors");
  constexpr int count = COLS / lanes;
  constexpr int H = COLS / 4;
  for (int64_t b = 0; b < batch; ++b) {
    Vec acc[count];
    const T* a_row = a + b * a_stride;
#pragma GCC unroll 32
    for (int v = 0; v < count; ++v) std::memcpy(&acc[v], a_row + v * lanes, sizeof(Vec));
    const T* h_row = h + b * size;
    for (int64_t k = 0; k < size; ++k) {
      const T scale = h_row[k];
      const T* w_row = w + k * COLS;
#pragma GCC unroll 32
      for (int v = 0; v < count; ++v) {
        Vec weight;
        std::memcpy(&weight, w_row + v * lanes, sizeof(Vec));
        acc[v] += scale * weight;
      }
    }
    T flat[COLS];
    std::memcpy(flat, acc, sizeof(flat));
    for (int g = 0; g < 4; ++g) {
      std::memcpy(out + (g * batch + b) * H, flat + g * H, H * sizeof(T));
    }
  }
}

template <typename T>
void lstm_preact_generic(const T* __restrict__ a, int64_t a_stride, const T* __restrict__ h,
                         const T* __restrict__ w, T* __restrict__ out, int64_t batch,
                         int64_t size, std::vector<T>& row) {
  const int64_t cols = 4 * size;
  for (int64_t b = 0; b < batch; ++b) {
    std::copy(a + b * a_stride, a + b * a_stride + cols, row.begin());
    matmul_accumulate<T>(h + b * size, size, w, row.data(), 1, size, cols);
    for (int64_t g = 0; g < 4; ++g) {
      std::copy(row.begin() + g * size, row.begin() + (g + 1) * size, out + (g * batch + b) * size);
    }
  }
}

template <typename T>
void lstm_preact(const T* a, int64_t a_stride, const T* h, const T* w, T* out, int64_t batch,
                 int64_t size, std::vector<T>& row) {
  switch (size) {
    case 36:
      return lstm_preact_fixed<T, 144>(a, a_stride, h, w, out, batch, size);
    case 32:
      return lstm_preact_fixed<T, 128>(a, a_stride, h, w, out, batch, size);
    case 16:
      return lstm_preact_fixed<T, 64>(a, a_stride, h, w, out, batch, size);
    default:
      return lstm_preact_generic<T>(a, a_stride, h, w, out, batch, size, row);
  }
}

// Gate math of one step over the whole (B*H) plane; gates holds pre-activations on entry and
// i, f, g, o on exit; peep holds the three peephole vectors repeated over the batch, (3, B*H).
template <typename T>
void lstm_forward_plane(T* __restrict__ gates, const T* __restrict__ peep,
                        const T* __restrict__ c_prev, T* __restrict__ c_next,
                        T* __restrict__ h_next, T* __restrict__ tanh_c, int64_t plane) {
  T* __restrict__ gi = gates;
  T* __restrict__ gf = gates + plane;
  T* __restrict__ gg = gates + 2 * plane;
  T* __restrict__ go = gates + 3 * plane;
  // sigma(x) = 1 / (1 + e^-x), tanh(x) = (e^2x - 1) / (e^2x + 1): i, f, g share one division,
  // o and tanh(c) another (a division costs several multiplies' worth in a vector loop).
#pragma GCC ivdep
  for (int64_t n = 0; n < plane; ++n) {
    const T cp = c_prev[n];
    const T di = T(1) + exp_bounded(-(gi[n] + peep[n] * cp));
    const T df = T(1) + exp_bounded(-(gf[n] + peep[plane + n] * cp));
    const T eg = exp_bounded(T(2) * gg[n]);
    const T dg = eg + T(1);
    const T r = T(1) / (di * df * dg);
    const T i = df * dg * r;
    const T f = di * dg * r;
    const T g = (eg - T(1)) * di * df * r;
    const T c = f * cp + i * g;
    const T d_o = T(1) + exp_bounded(-(go[n] + peep[2 * plane + n] * c));
    const T ec = exp_bounded(T(2) * c);
    const T dc = ec + T(1);
    const T r2 = T(1) / (d_o * dc);
    const T o = dc * r2;
    const T tc = (ec - T(1)) * d_o * r2;
    gi[n] = i;
    gf[n] = f;
    gg[n] = g;
    go[n] = o;
    c_next[n] = c;
    tanh_c[n] = tc;
    h_next[n] = o * tc;
  }
}

// One batch row of one backward step. dh: total d loss / d h_t; carry: d loss / d c_{t+1} times
// d c_{t+1} / d c_t on entry, the same for step t on exit; dpeep accumulates the peephole grads.
// Gate g of this row is at row[g * gate_stride + j].
template <typename T>
void lstm_backward_row(const T* __restrict__ row, int64_t gate_stride, const T* __restrict__ peep,
                       const T* __restrict__ c_prev, const T* __restrict__ c_now,
                       const T* __restrict__ tanh_c, const T* __restrict__ dh,
                       T* __restrict__ carry, T* __restrict__ drow, T* __restrict__ dpeep,
                       int64_t size) {
#pragma GCC ivdep
  for (int64_t j = 0; j < size; ++j) {
    const T i = row[j], f = row[gate_stride + j], g = row[2 * gate_stride + j];
    const T o = row[3 * gate_stride + j];
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

// x_proj (B, T, 4H) batch-major; gates (T, 4, B, H) receives the activations.
template <typename T>
void lstm_forward_loop(const at::Tensor& x_proj, at::Tensor& gates, const at::Tensor& recurrent,
                       const at::Tensor& peephole, at::Tensor& states, at::Tensor& cells,
                       at::Tensor& tanh_cells) {
  const int64_t steps = gates.size(0), batch = gates.size(2), size = recurrent.size(0);
  const T* x_data = x_proj.data_ptr<T>();
  const T* weight = recurrent.data_ptr<T>();
  const int64_t plane = batch * size;
  const T* peep = peephole.data_ptr<T>();
  std::vector<T> peep_plane(3 * plane);  // (3, B, H): each peephole vector repeated per row
  for (int64_t p = 0; p < 3; ++p) {
    for (int64_t b = 0; b < batch; ++b) {
      std::copy(peep + p * size, peep + (p + 1) * size, peep_plane.begin() + p * plane + b * size);
    }
  }
  std::vector<T> row(4 * size);
  T* gate_data = gates.data_ptr<T>();
  T* state_data = states.data_ptr<T>();
  T* cell_data = cells.data_ptr<T>();
  T* tanh_data = tanh_cells.data_ptr<T>();
  for (int64_t t = 0; t < steps; ++t) {
    T* gate_t = gate_data + t * 4 * plane;
    lstm_preact<T>(x_data + t * 4 * size, steps * 4 * size, state_data + t * plane, weight, gate_t,
                   batch, size, row);  // at t = 0 too: 0 * inf/NaN weights is NaN, as in BLAS
    lstm_forward_plane<T>(gate_t, peep_plane.data(), cell_data + t * plane,
                          cell_data + (t + 1) * plane, state_data + (t + 1) * plane,
                          tanh_data + t * plane, plane);
  }
}

template <typename T>
void lstm_backward_loop(const at::Tensor& gates, const at::Tensor& cells,
                        const at::Tensor& tanh_cells, const at::Tensor& grad_hidden,
                        const at::Tensor& recurrent, const at::Tensor& peephole,
                        at::Tensor& grad_pre, at::Tensor& grad_peephole) {
  // gates (T, 4, B, H); grad_pre is batch-major (B, T, 4H), ready to be the gradient of x_proj.
  const int64_t steps = gates.size(0), batch = gates.size(2), size = recurrent.size(0);
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
  // U^T zero-padded to (4H, padded H): the layout common.cpp's rows_matmul reads.
  const std::vector<T> weight_t = pad_weight<T>(weight, 4 * size, size, true);
  for (int64_t t = steps - 1; t >= 0; --t) {
    if (t == steps - 1) {
      std::copy(grad_in + t * plane, grad_in + (t + 1) * plane, dh);
    } else {  // d h_t = d loss/d h_t + d a_{t+1} U^T, row by row (d a rows are batch-major)
      rows_matmul<T>(grad_in + t * plane, size, grad_data + (t + 1) * 4 * size, steps * 4 * size,
                     weight_t, dh, size, batch, 4 * size, size);
    }
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t offset = b * size;
      lstm_backward_row<T>(gate_data + t * 4 * plane + offset, plane, peep,
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
