// tanh-RNN recurrence loops for CPU: h_{t+1} = tanh(a_t + h_t U). The per-step (B, H) @ (H, H)
// matmul is common.cpp's register-blocked rows_matmul, so a step costs a few microseconds with no
// ATen dispatch; tanh runs over the whole (B*H) plane.
#include <torch/extension.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace {

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
