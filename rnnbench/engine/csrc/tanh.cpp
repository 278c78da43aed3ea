// tanh-RNN recurrence loops for CPU: h_t = tanh(a_t + h_{t-1} U). No ATen call in the time loop.
#include <torch/extension.h>

namespace {

// x_proj (B, T, H) batch-major; states (T+1, B, H) with row 0 = zeros receives h_1..h_T.
template <typename T>
void tanh_forward_loop(const at::Tensor& x_proj, const at::Tensor& recurrent, at::Tensor& states) {
  const int64_t batch = x_proj.size(0), steps = x_proj.size(1), size = recurrent.size(0);
  const int64_t plane = batch * size;
  const T* x_data = x_proj.data_ptr<T>();
  const T* weight = recurrent.data_ptr<T>();
  T* state_data = states.data_ptr<T>();
  for (int64_t t = 0; t < steps; ++t) {
    T* h = state_data + (t + 1) * plane;
    for (int64_t b = 0; b < batch; ++b) {
      const T* a = x_data + (b * steps + t) * size;
      std::copy(a, a + size, h + b * size);
    }
    if (t > 0) {
      matmul_accumulate<T>(state_data + t * plane, size, weight, h, batch, size, size);
    }
#pragma GCC ivdep
    for (int64_t j = 0; j < plane; ++j) {
      h[j] = tanh_exp(h[j]);
    }
  }
}

// grad_hidden (T, B, H) time-major; grad_pre (B, T, H) batch-major receives d a_t.
template <typename T>
void tanh_backward_loop(const at::Tensor& states, const at::Tensor& grad_hidden,
                        const at::Tensor& recurrent, at::Tensor& grad_pre) {
  const int64_t steps = grad_hidden.size(0), batch = grad_hidden.size(1);
  const int64_t size = recurrent.size(0), plane = batch * size;
  const T* state_data = states.data_ptr<T>();
  const T* grad_in = grad_hidden.data_ptr<T>();
  const T* weight = recurrent.data_ptr<T>();
  T* grad_data = grad_pre.data_ptr<T>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    T* first = grad_data + t * size;  // row b at first + b * steps * size
    for (int64_t b = 0; b < batch; ++b) {
      const T* g = grad_in + t * plane + b * size;
      std::copy(g, g + size, first + b * steps * size);
    }
    if (t < steps - 1) {
      matmul_transposed_accumulate<T>(grad_data + (t + 1) * size, steps * size, weight, first,
                                      batch, size, size, steps * size);
    }
    for (int64_t b = 0; b < batch; ++b) {
      T* __restrict__ row = first + b * steps * size;
      const T* __restrict__ h = state_data + (t + 1) * plane + b * size;
#pragma GCC ivdep
      for (int64_t j = 0; j < size; ++j) {
        row[j] *= T(1) - h[j] * h[j];
      }
    }
  }
}

}  // namespace

void tanh_forward(at::Tensor x_proj, at::Tensor recurrent, at::Tensor states) {
  AT_DISPATCH_FLOATING_TYPES(x_proj.scalar_type(), "tanh_forward", [&] {
    tanh_forward_loop<scalar_t>(x_proj, recurrent, states);
  });
}

void tanh_backward(at::Tensor states, at::Tensor grad_hidden, at::Tensor recurrent,
                   at::Tensor grad_pre) {
  AT_DISPATCH_FLOATING_TYPES(states.scalar_type(), "tanh_backward", [&] {
    tanh_backward_loop<scalar_t>(states, grad_hidden, recurrent, grad_pre);
  });
}
