// Argument checking for the Node-API bindings (addon.cc): every argument is checked before any
// memory is touched; a wrong type throws a TypeError, a bad value or a too-short buffer a
// RangeError, both naming the function and the argument.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <string>

#include "threadpool.h"

namespace pixelcnn {

// Held around every kernel call (see lockKernels).
struct KernelLock {
  KernelLock() { lockKernels(); }
  ~KernelLock() { unlockKernels(); }
  KernelLock(const KernelLock&) = delete;
  KernelLock& operator=(const KernelLock&) = delete;
};

// The typed array type holding T, and how errors name it.
template <class T> struct TypedArrayOf;
template <> struct TypedArrayOf<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* what = "a Float32Array";
};
template <> struct TypedArrayOf<double> {
  static constexpr napi_typedarray_type type = napi_float64_array;
  static constexpr const char* what = "a Float64Array";
};
template <> struct TypedArrayOf<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* what = "an Int32Array";
};
template <> struct TypedArrayOf<uint32_t> {
  static constexpr napi_typedarray_type type = napi_uint32_array;
  static constexpr const char* what = "a Uint32Array";
};
template <> struct TypedArrayOf<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* what = "a Uint8Array";
};

template <class T>
struct Span {
  T* data;  // null when empty
  size_t size;
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), fn_(fn) {
    if (info.Length() < count)
      throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + std::to_string(count) +
                                                 " arguments, got " + std::to_string(info.Length()));
  }

  [[noreturn]] void typeError(const std::string& msg) const {
    throw Napi::TypeError::New(info_.Env(), std::string(fn_) + ": " + msg);
  }
  [[noreturn]] void rangeError(const std::string& msg) const {
    throw Napi::RangeError::New(info_.Env(), std::string(fn_) + ": " + msg);
  }

  bool boolean(size_t i, const char* name) const {
    if (!info_[i].IsBoolean()) typeError(std::string(name) + " must be a boolean");
    return info_[i].As<Napi::Boolean>().Value();
  }

  double number(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) typeError(std::string(name) + " must be a number");
    return info_[i].As<Napi::Number>().DoubleValue();
  }

  // An integer in [lo, 2^31).
  int integer(size_t i, const char* name, int lo) const {
    const double v = number(i, name);
    if (!(v == std::floor(v)) || v < lo || v > 2147483647.0)
      rangeError(std::string(name) + " must be an integer >= " + std::to_string(lo) + ", got " +
                 Napi::Value(info_[i]).ToString().Utf8Value());
    return static_cast<int>(v);
  }

  // beta of a kernel that overwrites (0) or accumulates (1).
  int beta(size_t i) const {
    const double v = number(i, "beta");
    if (v != 0 && v != 1) rangeError("beta must be 0 or 1");
    return v == 0 ? 0 : 1;
  }

  // The typed array of T at i, any length ({null, 0} for null or undefined if nullable).
  template <class T>
  Span<T> span(size_t i, const char* name, bool nullable = false) const {
    const Napi::Value v = info_[i];
    if (nullable && (v.IsNull() || v.IsUndefined())) return {nullptr, 0};
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayOf<T>::type)
      typeError(std::string(name) + " must be " + TypedArrayOf<T>::what + (nullable ? " or null" : ""));
    Napi::TypedArray arr = v.As<Napi::TypedArray>();
    const size_t len = arr.ElementLength();
    if (len == 0) return {nullptr, 0};
    auto* base = static_cast<uint8_t*>(arr.ArrayBuffer().Data());
    return {reinterpret_cast<T*>(base + arr.ByteOffset()), len};
  }

  // The typed array of T at i with at least `needed` elements (null if nullable and null).
  template <class T>
  T* array(size_t i, const char* name, double needed, bool nullable = false) const {
    const Napi::Value v = info_[i];
    if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
    const Span<T> s = span<T>(i, name, nullable);
    if (static_cast<double>(s.size) < needed)
      rangeError(std::string(name) + " has " + std::to_string(s.size) + " elements, needs at least " +
                 std::to_string(static_cast<long long>(needed)));
    return s.data;
  }

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

// A binding's body: body(args) reads its `count` arguments through args, whose errors name the
// function by the data it was registered with (its JS name, addon.cc's kBindings). Anything
// else thrown (std::bad_alloc from a kernel's scratch) becomes one Error naming the function.
template <class F>
inline Napi::Value guarded(const Napi::CallbackInfo& info, size_t count, F body) {
  const char* fn = static_cast<const char*>(info.Data());
  try {
    const Args args(info, fn, count);
    body(args);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("pixelcnn native: ") + fn + ": " + e.what());
  }
  return info.Env().Undefined();
}

}  // namespace pixelcnn
