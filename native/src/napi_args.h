// Argument checking shared by the Node-API bindings (addon.cc, elementwise.cc): every argument is
// checked before any memory is touched; a wrong type throws a TypeError, a bad value or a too-short
// buffer a RangeError, both naming the function and the argument.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <string>

#include "threadpool.h"

namespace pixelcnn {

struct KernelLock {
  KernelLock() { lockKernels(); }
  ~KernelLock() { unlockKernels(); }
  KernelLock(const KernelLock&) = delete;
  KernelLock& operator=(const KernelLock&) = delete;
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

  template <class T>
  T* array(size_t i, const char* name, napi_typedarray_type type, const char* typeName,
           double needed, bool nullable = false) const {
    const Napi::Value v = info_[i];
    if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      typeError(std::string(name) + " must be a " + typeName + (nullable ? " or null" : ""));
    Napi::TypedArray arr = v.As<Napi::TypedArray>();
    const double len = static_cast<double>(arr.ElementLength());
    if (len < needed)
      rangeError(std::string(name) + " has " + std::to_string(arr.ElementLength()) +
                 " elements, needs at least " + std::to_string(static_cast<long long>(needed)));
    if (len == 0) return nullptr;
    auto* base = static_cast<uint8_t*>(arr.ArrayBuffer().Data());
    return reinterpret_cast<T*>(base + arr.ByteOffset());
  }

  // beta of a kernel that overwrites (0) or accumulates (1).
  int beta(size_t i) const {
    const double v = number(i, "beta");
    if (v != 0 && v != 1) rangeError("beta must be 0 or 1");
    return v == 0 ? 0 : 1;
  }

  float* f32(size_t i, const char* name, double needed, bool nullable = false) const {
    return array<float>(i, name, napi_float32_array, "Float32Array", needed, nullable);
  }

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

template <class F>
inline Napi::Value guarded(const Napi::CallbackInfo& info, F f) {
  try {
    f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("pixelcnn native: ") + e.what());
  }
  return info.Env().Undefined();
}

}  // namespace pixelcnn
