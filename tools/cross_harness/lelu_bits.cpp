// Runs the element functions of the LELU CPU kernel (ATen/native/cpu/LeluVec.h)
// for one CPU capability, vectorized and scalar, on the inputs that
// `tools/lelu cross-check` writes, and writes the results' bits. Built per
// capability with that capability's flags (natively or with a cross compiler,
// run under qemu-user); the tool compares the bits across capabilities.
//
//   lelu_bits INPUT OUTPUT
//
// INPUT, per dtype in the order float, double, bfloat16, half: a little-endian
// uint64 count n, then n values x and n values grad (little-endian bits).
// OUTPUT, per dtype: forward vectorized, forward scalar, backward vectorized,
// backward scalar (n values each, little-endian bits). The vectorized path runs
// on whole vectors; the tail of an array is padded with zeros.
//
// For float and double it also runs Inductor's entry point on VectorizedN<T, 2>
// (at::native::lelu_opmath, lelu_backward_opmath) and fails unless it gives the
// kernel's bits.

#include <ATen/native/cpu/LeluVec.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

namespace {

using at::native::LeluElementOps;
using at::vec::Vectorized;
using at::vec::VectorizedN;

bool big_endian() {
  const uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 0;
}

template <typename T>
void swap_bytes(std::vector<T>& values) {
  if (!big_endian()) {
    return;
  }
  for (auto& v : values) {
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    for (size_t i = 0; i < sizeof(T) / 2; ++i) {
      std::swap(bytes[i], bytes[sizeof(T) - 1 - i]);
    }
    std::memcpy(&v, bytes, sizeof(T));
  }
}

template <typename T>
bool read_values(std::FILE* f, std::vector<T>& values, uint64_t n) {
  values.resize(n);
  if (std::fread(values.data(), sizeof(T), n, f) != n) {
    return false;
  }
  swap_bytes(values);
  return true;
}

template <typename T>
bool write_values(std::FILE* f, std::vector<T> values, uint64_t n) {
  values.resize(n);
  swap_bytes(values);
  return std::fwrite(values.data(), sizeof(T), n, f) == n;
}

// the same bits, or both NaN (the sign and payload of a NaN may differ between
// the vectorized and the scalar paths, as the tool allows)
template <typename T>
bool same_bits(const T* a, const T* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const bool both_nan = a[i] != a[i] && b[i] != b[i];
    if (!both_nan && std::memcmp(a + i, b + i, sizeof(T)) != 0) {
      return false;
    }
  }
  return true;
}

// Inductor's kernels call lelu_opmath / lelu_backward_opmath; on T and
// Vectorized<T> they are the kernel's own forward_opmath / backward_opmath, on
// VectorizedN<T, 2> (what Inductor's bfloat16 and half loops use) a loop of
// their own, checked here against the kernel's vectorized results. x, grad
// padded to a multiple of 2 * Vectorized<T>::size().
template <typename T>
bool vectorized_n_agrees(
    const std::vector<T>& x,
    const std::vector<T>& grad,
    const std::vector<T>& fwd,
    const std::vector<T>& bwd) {
  using VecN = VectorizedN<T, 2>;
  std::vector<T> out(VecN::size());
  for (size_t i = 0; i + VecN::size() <= x.size(); i += VecN::size()) {
    const VecN xv = VecN::loadu(x.data() + i);
    const VecN gv = VecN::loadu(grad.data() + i);
    at::native::lelu_opmath(xv).store(out.data());
    bool ok = same_bits(out.data(), fwd.data() + i, VecN::size());
    at::native::lelu_backward_opmath(gv, xv).store(out.data());
    ok = ok && same_bits(out.data(), bwd.data() + i, VecN::size());
    if (!ok) {
      std::fprintf(
          stderr,
          "lelu_opmath / lelu_backward_opmath on VectorizedN differ from the "
          "kernel's bits near element %zu\n",
          i);
      return false;
    }
  }
  return true;
}

template <typename T>
bool run_dtype(std::FILE* in, std::FILE* out) {
  using Ops = LeluElementOps<T>;
  using Vec = Vectorized<T>;
  std::vector<uint64_t> count;
  if (!read_values(in, count, 1)) {
    return false;
  }
  const uint64_t n = count[0];
  std::vector<T> x;
  std::vector<T> grad;
  if (!read_values(in, x, n) || !read_values(in, grad, n)) {
    return false;
  }
  // whole VectorizedN<T, 2>s (see vectorized_n_agrees)
  const uint64_t step = 2 * Vec::size();
  const uint64_t padded = (n + step - 1) / step * step;
  x.resize(padded, T(0));
  grad.resize(padded, T(0));
  std::vector<T> fwd_vec(padded);
  std::vector<T> fwd_scalar(padded);
  std::vector<T> bwd_vec(padded);
  std::vector<T> bwd_scalar(padded);
  for (uint64_t i = 0; i < padded; i += Vec::size()) {
    const Vec xv = Vec::loadu(x.data() + i);
    const Vec gv = Vec::loadu(grad.data() + i);
    Ops::forward(xv).store(fwd_vec.data() + i);
    Ops::backward(gv, xv).store(bwd_vec.data() + i);
  }
  for (uint64_t i = 0; i < padded; ++i) {
    fwd_scalar[i] = Ops::forward(x[i]);
    bwd_scalar[i] = Ops::backward(grad[i], x[i]);
  }
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (!vectorized_n_agrees(x, grad, fwd_vec, bwd_vec)) {
      return false;
    }
  }
  return write_values(out, fwd_vec, n) && write_values(out, fwd_scalar, n) &&
      write_values(out, bwd_vec, n) && write_values(out, bwd_scalar, n);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s INPUT OUTPUT\n", argv[0]);
    return 2;
  }
  std::FILE* in = std::fopen(argv[1], "rb");
  std::FILE* out = std::fopen(argv[2], "wb");
  if (in == nullptr || out == nullptr) {
    std::fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  const bool ok = run_dtype<float>(in, out) && run_dtype<double>(in, out) &&
      run_dtype<c10::BFloat16>(in, out) && run_dtype<c10::Half>(in, out);
  std::fclose(in);
  if (std::fclose(out) != 0 || !ok) {
    std::fprintf(stderr, "reading %s or writing %s failed\n", argv[1], argv[2]);
    return 1;
  }
  return 0;
}
