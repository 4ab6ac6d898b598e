// C++ embedding test (make test-cxx): one C++ program includes the headers of several
// generated networks -- the same spec for several ISAs, renamed with `chainrule gen --name`,
// and other specs -- compiled with g++ and clang++ under -std=c++17 and -std=c++20 with
// -Wall -Wextra -Wpedantic -Werror, linked against the generated .c files compiled as C.
// Every variant gets the same weights (through NAME_import_tensor), runs forward and three
// train steps, and must agree with its scalar build within the test-isa tolerance; variants
// whose ISA this CPU lacks are compiled and linked but not run.
#include "mnist_scalar.h"
#include "mnist_avx2.h"
#include "mnist_avx512.h"
#include "seed_scalar.h"
#include "seed_avx2.h"
#include "xor.h"
#include "mnist_infer.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

namespace {

// One generated network as a type: its structs and entry points.
#define NET(N, U, ISA_OK)                                                                      \
  struct N##_net {                                                                             \
    using params = N##_params;                                                                 \
    using grads = N##_grads;                                                                   \
    using work = N##_work;                                                                     \
    using opt = N##_opt;                                                                       \
    using target = N##_target;                                                                 \
    static constexpr int in = U##_IN, out = U##_OUT, batch = U##_BATCH;                        \
    static constexpr int tensor_count = U##_TENSOR_COUNT;                                      \
    static constexpr const char *name = #N;                                                    \
    static bool runs() { return ISA_OK; }                                                      \
    static const N##_tensor_info &tensor(int i) { return N##_tensors[i]; }                     \
    static void opt_init(opt *s) { N##_opt_init(s); }                                          \
    static void import_tensor(params *p, int i, const float *src) { N##_import_tensor(p, i, src); } \
    static void export_tensor(float *dst, const params *p, int i) { N##_export_tensor(dst, p, i); } \
    static void forward(float *o, work *w, const params *p, const float *x, int n) {           \
      N##_forward(o, w, p, x, n);                                                              \
    }                                                                                          \
    static float train_step(params *p, opt *s, grads *g, work *w, const float *x,              \
                            const target *t, int n) {                                          \
      return N##_train_step(p, s, g, w, x, t, n);                                              \
    }                                                                                          \
  };                                                                                           \
  static_assert(alignof(N##_params) == 64, #N "_params alignment");                           \
  static_assert(alignof(N##_work) == 64, #N "_work alignment");                               \
  static_assert(std::is_standard_layout<N##_params>::value, #N "_params layout");             \
  static_assert(std::is_trivially_copyable<N##_opt>::value, #N "_opt copyable");              \
  static_assert(sizeof(N##_work) == U##_WORK_BYTES, #N "_work size");

#if defined(__x86_64__) || defined(__i386__)
#define HAS(f) __builtin_cpu_supports(f)
#else
#define HAS(f) false
#endif

NET(mnist_scalar, MNIST_SCALAR, true)
NET(mnist_avx2, MNIST_AVX2, HAS("avx2") && HAS("fma"))
NET(mnist_avx512, MNIST_AVX512, HAS("avx512f") && HAS("avx512vl") && HAS("avx512bw") && HAS("avx512dq"))
NET(seed_scalar, SEED_SCALAR, true)
NET(seed_avx2, SEED_AVX2, HAS("avx2") && HAS("fma"))
NET(xor, XOR, true)

static_assert(std::is_same<mnist_avx2_target, std::int32_t>::value, "class-index targets");
static_assert(std::is_same<seed_avx2_target, float>::value, "regression targets");

// A fixed pseudo-random stream (the same for every variant).
struct Stream {
  std::uint32_t s;
  float next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
  }
};

// What one variant computed: forward output, then the parameters after three train steps.
struct Result {
  std::vector<float> out, params;
  std::vector<float> losses;
};

template <class T> static T make_target(Stream &r, int classes) {
  if constexpr (std::is_same<T, float>::value) {
    (void)classes;
    return r.next();
  } else {
    return static_cast<T>(static_cast<int>((r.next() + 1.0f) * 0.5f * static_cast<float>(classes)) % classes);
  }
}

template <class Net> static Result run() {
  // the structs are big: heap, with the alignment C++17's aligned new gives
  auto p = std::make_unique<typename Net::params>();
  auto g = std::make_unique<typename Net::grads>();
  auto w = std::make_unique<typename Net::work>();
  auto s = std::make_unique<typename Net::opt>();
  Stream r{12345u};
  for (int i = 0; i < Net::tensor_count; i++) {
    const auto &ti = Net::tensor(i);
    std::vector<float> v(static_cast<size_t>(ti.rows) * ti.cols);
    for (auto &e : v) e = 0.1f * r.next();
    Net::import_tensor(p.get(), i, v.data());
  }
  Net::opt_init(s.get());
  const int n = Net::batch - 1;
  std::vector<float> x(static_cast<size_t>(n) * Net::in);
  std::vector<typename Net::target> t(static_cast<size_t>(n));
  for (auto &e : x) e = r.next();
  for (auto &e : t) e = make_target<typename Net::target>(r, Net::out);
  Result res;
  res.out.resize(static_cast<size_t>(n) * Net::out);
  Net::forward(res.out.data(), w.get(), p.get(), x.data(), n);
  for (int k = 0; k < 3; k++) res.losses.push_back(Net::train_step(p.get(), s.get(), g.get(), w.get(), x.data(), t.data(), n));
  for (int i = 0; i < Net::tensor_count; i++) {
    const auto &ti = Net::tensor(i);
    std::vector<float> v(static_cast<size_t>(ti.rows) * ti.cols);
    Net::export_tensor(v.data(), p.get(), i);
    res.params.insert(res.params.end(), v.begin(), v.end());
  }
  return res;
}

static int failures = 0;

// |got - want| <= 1e-5 + 1e-4 max|want| over a vector (test-isa's tolerance).
static void check_close(const char *what, const char *name, const std::vector<float> &got, const std::vector<float> &want) {
  float mx = 0.0f;
  for (float v : want) mx = std::fmax(mx, std::fabs(v));
  const float tol = 1e-5f + 1e-4f * mx;
  if (got.size() != want.size()) {
    std::printf("FAIL %s %s: %zu values, want %zu\n", name, what, got.size(), want.size());
    failures++;
    return;
  }
  for (size_t i = 0; i < got.size(); i++) {
    if (!(std::fabs(got[i] - want[i]) <= tol)) {
      std::printf("FAIL %s %s[%zu]: %.9g, scalar %.9g (tolerance %.3g)\n", name, what, i,
                  static_cast<double>(got[i]), static_cast<double>(want[i]), static_cast<double>(tol));
      failures++;
      return;
    }
  }
}

template <class Net, class Ref> static void against(const Result &ref) {
  if (!Net::runs()) {
    std::printf("%-13s compiled and linked; not run (this CPU lacks its ISA)\n", Net::name);
    return;
  }
  const Result got = run<Net>();
  check_close("forward", Net::name, got.out, ref.out);
  check_close("loss", Net::name, got.losses, ref.losses);
  check_close("params after 3 steps", Net::name, got.params, ref.params);
  std::printf("%-13s forward and 3 train steps match %s (loss %.6f)\n", Net::name, Ref::name,
              static_cast<double>(got.losses.back()));
}

}  // namespace

int main() {
  const Result mnist = run<mnist_scalar_net>();
  against<mnist_avx2_net, mnist_scalar_net>(mnist);
  against<mnist_avx512_net, mnist_scalar_net>(mnist);
  const Result seed = run<seed_scalar_net>();
  against<seed_avx2_net, seed_scalar_net>(seed);
  const Result x = run<xor_net>();
  for (float l : x.losses)
    if (!std::isfinite(l)) {
      std::printf("FAIL xor: loss %g\n", static_cast<double>(l));
      failures++;
    }
  std::printf("%-13s 3 train steps, loss %.6f\n", xor_net::name, static_cast<double>(x.losses.back()));
  // the inference-only build (const weights, predict) against the training build's forward
  {
    auto p = std::make_unique<mnist_scalar_params>();
    auto w = std::make_unique<mnist_scalar_work>();
    std::vector<float> buf(MNIST_INFER_IN * 50);
    for (int i = 0; i < MNIST_INFER_TENSOR_COUNT; i++) {
      mnist_infer_export_tensor(buf.data(), &mnist_infer_weights, i);
      mnist_scalar_import_tensor(p.get(), i, buf.data());
    }
    const int n = 9;   // more rows than --max-batch 4: predict works in chunks
    std::vector<float> x(static_cast<size_t>(n) * MNIST_INFER_IN), out(static_cast<size_t>(n) * MNIST_INFER_OUT);
    Stream r{777u};
    for (auto &e : x) e = r.next();
    std::int32_t cls[n];
    mnist_infer_predict(cls, x.data(), n);
    mnist_scalar_forward(out.data(), w.get(), p.get(), x.data(), n);
    int same = 0;
    for (int i = 0; i < n; i++) {
      int best = 0;
      for (int j = 1; j < MNIST_INFER_OUT; j++)
        if (out[static_cast<size_t>(i) * MNIST_INFER_OUT + j] > out[static_cast<size_t>(i) * MNIST_INFER_OUT + best]) best = j;
      same += best == cls[i];
    }
    if (same != n) {
      std::printf("FAIL mnist_infer: %d of %d predictions equal the training build's argmax\n", same, n);
      failures++;
    }
    std::printf("%-13s inference build (const weights, --max-batch %d): %d/%d predictions = mnist_scalar's argmax\n",
                "mnist_infer", MNIST_INFER_BATCH, same, n);
  }
  if (failures) std::printf("cxx_test (%s, C++ %ld): %d failures\n", __VERSION__, static_cast<long>(__cplusplus), failures);
  else std::printf("cxx_test (C++ %ld): 7 networks (3 specs, 3 ISAs, an inference build) in one program: ok\n", static_cast<long>(__cplusplus));
  return failures ? 1 : 0;
}
