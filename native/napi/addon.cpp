// N-API glue (node-addon-api): the small flat surface of DESIGN.md. Arguments for run() travel
// through a per-instance Float64Array "argument block" that JS fills, so a call passes four
// integers and allocates nothing. Addresses cross as doubles (exact below 2^53). Native code
// returns statuses; JS turns them into KilnError, so nothing here throws on a bad tensor.
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "bench_ref.h"
#include "kiln.h"
#include "kiln_ops.gen.h"

namespace {

constexpr int kDescDoubles = 3 + 2 * KILN_MAX_DIMS;  // data, dtype, ndim, shape, strides
constexpr int kAttrBase = kDescDoubles * KILN_MAX_OPERANDS * 2;
constexpr int kGcSlot = kAttrBase + KILN_MAX_ATTRS;  // set to 1 by an allocation that sees a GC went by
constexpr int kBlockDoubles = kGcSlot + 1;

struct Context {  // shared by the instance and every zero-copy ArrayBuffer still alive
  kiln_context *ctx;
  ~Context() { kiln_context_destroy(ctx); }
};

struct Instance {
  std::shared_ptr<Context> shared;
  kiln_context *ctx;
  double *block = nullptr;  // data of block_ref's ArrayBuffer, which the instance keeps alive
  Napi::Reference<Napi::Float64Array> block_ref;
  // The backstop for tensors never disposed (ts/storage.ts): a weak reference to each storage
  // that outlived its first microtask, with a strong one to the cell that says how to free its
  // block. V8 clears a weak reference during the collection itself, so sweep() finds the dead
  // even in a synchronous loop that never lets a FinalizationRegistry's callbacks run.
  struct Tracked {
    napi_ref storage, cell;
  };
  std::vector<Tracked> tracked;
  napi_ref canary = nullptr;  // weak, to an empty object: gone once a collection has run
  int allocs_unwatched = 0;
};

Instance *inst(const Napi::CallbackInfo &info) { return info.Env().GetInstanceData<Instance>(); }

// Raises block[kGcSlot] when the canary is gone (a collection ran since it was made), and makes a
// new one. Allocations call it; it looks every 16th time, so JS learns of a collection within 16
// allocations at the cost of a counter on the others.
void watch_gc(napi_env env, Instance *I) {
  if (++I->allocs_unwatched < 16 && I->canary) return;
  I->allocs_unwatched = 0;
  napi_value v = nullptr;
  if (I->canary) {
    napi_get_reference_value(env, I->canary, &v);
    if (v) return;
    I->block[kGcSlot] = 1;
    napi_delete_reference(env, I->canary);
    I->canary = nullptr;
  }
  napi_value o;
  if (napi_create_object(env, &o) == napi_ok) napi_create_reference(env, o, 0, &I->canary);
}

// Doubles to integers without undefined casts: anything non-integral or out of range becomes a
// value kiln_op_run rejects (-1).
int64_t to_i64(double v) { return v >= -9.0e15 && v <= 9.0e15 && v == (double)(int64_t)v ? (int64_t)v : -1; }

void unpack(const double *b, kiln_tensor *t) {
  t->data = b[0] > 0 && b[0] < 9.0e15 ? (void *)(uintptr_t)b[0] : nullptr;
  t->dtype = (int32_t)std::max<int64_t>(-1, std::min<int64_t>(to_i64(b[1]), 1000));
  t->ndim = (int32_t)std::max<int64_t>(-1, std::min<int64_t>(to_i64(b[2]), 1000));
  if (t->ndim < 0 || t->ndim > KILN_MAX_DIMS) return;  // kiln_op_run reports it
  for (int d = 0; d < t->ndim; d++) {
    t->shape[d] = to_i64(b[3 + d]);
    t->strides[d] = to_i64(b[3 + KILN_MAX_DIMS + d]);
    if (t->strides[d] == -1 && b[3 + KILN_MAX_DIMS + d] != -1.0) t->shape[d] = -1;  // make check() fail
  }
}

// Reads an optional device argument: -1 (the CPU) when absent.
int device_arg(const Napi::CallbackInfo &info, size_t i) {
  return info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().Int32Value() : -1;
}

// run(op, nout, nin, nattr, device = -1) -> status (0 = ok; message in lastError()).
Napi::Value Run(const Napi::CallbackInfo &info) {
  Instance *I = inst(info);
  int op = info[0].As<Napi::Number>().Int32Value(), nout = info[1].As<Napi::Number>().Int32Value();
  int nin = info[2].As<Napi::Number>().Int32Value(), nattr = info[3].As<Napi::Number>().Int32Value();
  if (nout < 0 || nin < 0 || nout + nin > 2 * KILN_MAX_OPERANDS || nattr < 0 || nattr > KILN_MAX_ATTRS)
    return Napi::Number::New(info.Env(), KILN_ERR_ARG);
  kiln_tensor t[2 * KILN_MAX_OPERANDS] = {};
  for (int i = 0; i < nout + nin; i++) unpack(I->block + i * kDescDoubles, &t[i]);
  kiln_status st =
      kiln_op_run_device(I->ctx, device_arg(info, 4), op, t, nout, t + nout, nin, I->block + kAttrBase, nattr);
  return Napi::Number::New(info.Env(), st);
}

// optimStep(kind, dtype, items: Float64Array, hyper: Float64Array, device = -1) -> status. Seven
// doubles per item: parameter, gradient and three state addresses (0: none), element count, step.
Napi::Value OptimStep(const Napi::CallbackInfo &info) {
  Instance *I = inst(info);
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[2].IsTypedArray() || !info[3].IsTypedArray())
    return Napi::Number::New(env, KILN_ERR_ARG);
  auto items = info[2].As<Napi::Float64Array>(), hyper = info[3].As<Napi::Float64Array>();
  if (items.ElementLength() % 7 != 0) return Napi::Number::New(env, KILN_ERR_ARG);
  const size_t n = items.ElementLength() / 7;
  std::vector<kiln_optim_item> list(n);
  const double *d = items.Data();
  auto ptr = [](double a) { return (void *)(uintptr_t)a; };
  for (size_t i = 0; i < n; i++, d += 7)
    list[i] = kiln_optim_item{ptr(d[0]), ptr(d[1]), {ptr(d[2]), ptr(d[3]), ptr(d[4])}, (int64_t)d[5], (int64_t)d[6]};
  kiln_status st =
      kiln_optim_step_device(I->ctx, device_arg(info, 4), (kiln_optim)info[0].As<Napi::Number>().Int32Value(),
                             (kiln_dtype)info[1].As<Napi::Number>().Int32Value(), list.data(), (int)n, hyper.Data(),
                             (int)hyper.ElementLength());
  return Napi::Number::New(env, st);
}

Napi::Value Alloc(const Napi::CallbackInfo &info) {
  Instance *I = inst(info);
  double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 0) || n > 9.0e15) return Napi::Number::New(info.Env(), 0);
  void *p = kiln_buffer_alloc(I->ctx, (size_t)n);
  watch_gc(info.Env(), I);
  return Napi::Number::New(info.Env(), (double)(uintptr_t)p);
}

Napi::Value Free(const Napi::CallbackInfo &info) {
  Instance *I = inst(info);
  void *p = (void *)(uintptr_t)info[0].As<Napi::Number>().DoubleValue();
  kiln_buffer_free(I->ctx, p);
  return info.Env().Undefined();
}

// view(addr, nbytes) -> ArrayBuffer over the block (zero-copy); it holds a reference to the block
// until the garbage collector drops it. Falls back to a copy where external buffers are forbidden.
Napi::Value View(const Napi::CallbackInfo &info) {
  Instance *I = inst(info);
  void *p = (void *)(uintptr_t)info[0].As<Napi::Number>().DoubleValue();
  double nd = info[1].As<Napi::Number>().DoubleValue();
  size_t n = nd >= 0 && nd < 9.0e15 ? (size_t)nd : (size_t)-1;
  if (n > kiln_buffer_size(I->ctx, p) || !kiln_buffer_retain(I->ctx, p)) return info.Env().Null();
  auto *hint = new std::pair<std::shared_ptr<Context>, void *>(I->shared, p);
  napi_value ab;
  napi_status s = napi_create_external_arraybuffer(
      info.Env(), p, n,
      [](napi_env, void *, void *h) {
        auto *pr = (std::pair<std::shared_ptr<Context>, void *> *)h;
        kiln_buffer_free(pr->first->ctx, pr->second);
        delete pr;
      },
      hint, &ab);
  if (s != napi_ok) {  // e.g. a runtime with the V8 sandbox: copy instead
    kiln_buffer_free(I->ctx, p);
    delete hint;
    auto copy = Napi::ArrayBuffer::New(info.Env(), n);
    memcpy(copy.Data(), p, n);
    return copy;
  }
  return Napi::Value(info.Env(), ab);
}

// copyIn(addr, typedArray) / copyOut(addr, typedArray): raw byte copies between JS and a block.
// Both check the length against the block, so a bad call cannot write past it.
Napi::Value Copy(const Napi::CallbackInfo &info, bool in) {
  void *p = (void *)(uintptr_t)info[0].As<Napi::Number>().DoubleValue();
  auto ta = info[1].As<Napi::TypedArray>();
  if (ta.ByteLength() > kiln_buffer_size(inst(info)->ctx, p)) return Napi::Boolean::New(info.Env(), false);
  char *js = (char *)ta.ArrayBuffer().Data() + ta.ByteOffset();
  if (in)
    memcpy(p, js, ta.ByteLength());
  else
    memcpy(js, p, ta.ByteLength());
  return Napi::Boolean::New(info.Env(), true);
}
Napi::Value CopyIn(const Napi::CallbackInfo &info) { return Copy(info, true); }
Napi::Value CopyOut(const Napi::CallbackInfo &info) { return Copy(info, false); }

// track(storage, cell): sweep() returns cell once storage has been collected.
Napi::Value Track(const Napi::CallbackInfo &info) {
  Instance *I = inst(info);
  napi_env env = info.Env();
  Instance::Tracked t{nullptr, nullptr};
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject() ||
      napi_create_reference(env, info[0], 0, &t.storage) != napi_ok)
    return Napi::Boolean::New(env, false);
  if (napi_create_reference(env, info[1], 1, &t.cell) != napi_ok) {
    napi_delete_reference(env, t.storage);
    return Napi::Boolean::New(env, false);
  }
  I->tracked.push_back(t);
  return Napi::Boolean::New(env, true);
}

// adjustExternal(delta) -> V8's external total after it: tells V8 that memory only a collection
// can free grew or shrank by delta bytes (ts/storage.ts decides what that is), so that it
// collects when a leak grows. (process.memoryUsage().external does not show this figure.)
Napi::Value AdjustExternal(const Napi::CallbackInfo &info) {
  double d = info[0].As<Napi::Number>().DoubleValue();
  int64_t total =
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), d >= -9.0e15 && d <= 9.0e15 ? (int64_t)d : 0);
  return Napi::Number::New(info.Env(), (double)total);
}

// sweep() -> the cells of tracked storages collected since the last sweep (forgotten here), and
// lowers block[kGcSlot].
Napi::Value Sweep(const Napi::CallbackInfo &info) {
  Instance *I = inst(info);
  Napi::Env env = info.Env();
  auto dead = Napi::Array::New(env);
  uint32_t n = 0;
  size_t keep = 0;
  auto &list = I->tracked;
  for (size_t i = 0; i < list.size(); i += 256) {
    Napi::HandleScope scope(env);  // a live storage's handle lasts only for its check
    for (size_t j = i; j < std::min(list.size(), i + 256); j++) {
      napi_value v = nullptr;
      napi_get_reference_value(env, list[j].storage, &v);
      if (v) {
        list[keep++] = list[j];
        continue;
      }
      napi_value c = nullptr;
      napi_get_reference_value(env, list[j].cell, &c);
      if (c) napi_set_element(env, dead, n++, c);
      napi_delete_reference(env, list[j].storage);
      napi_delete_reference(env, list[j].cell);
    }
  }
  list.resize(keep);
  I->block[kGcSlot] = 0;
  return dead;
}

Napi::Value LastError(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), kiln_last_error(inst(info)->ctx));
}

Napi::Value MemoryStats(const Napi::CallbackInfo &info) {
  kiln_memory_stats s;
  kiln_memory_stats_get(inst(info)->ctx, &s);
  auto o = Napi::Object::New(info.Env());
  o["liveBytes"] = (double)s.live_bytes;
  o["liveBlocks"] = (double)s.live_blocks;
  o["cachedBytes"] = (double)s.cached_bytes;
  o["cachedBlocks"] = (double)s.cached_blocks;
  o["peakBytes"] = (double)s.peak_bytes;
  o["allocCalls"] = (double)s.alloc_calls;
  o["cacheHits"] = (double)s.cache_hits;
  o["scratchBytes"] = (double)kiln_memory_scratch_bytes();
  return o;
}

Napi::Value EmptyCache(const Napi::CallbackInfo &info) {
  kiln_memory_empty_cache(inst(info)->ctx);
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo &info) {
  Instance *I = inst(info);
  auto o = Napi::Object::New(info.Env());
  o["isa"] = kiln_isa_name(kiln_context_isa(I->ctx));
  o["numThreads"] = kiln_context_num_threads(I->ctx);
  o["workerStackBytes"] = (double)kiln_context_worker_stack(I->ctx);
  auto sup = Napi::Array::New(info.Env());
  unsigned set = kiln_isa_supported();
  uint32_t k = 0;
  for (int i = 0; i < 4; i++)
    if (set & (1u << i)) sup[k++] = kiln_isa_name((kiln_isa)i);
  o["supportedIsas"] = sup;
  o["startupWarning"] = kiln_context_startup_warning(I->ctx);
  o["opCount"] = (int)KILN_OP_COUNT;
  o["cuda"] = kiln_cuda_compiled() != 0;
  o["version"] = 1;
  return o;
}

// ---- CUDA (kiln_cuda_* in kiln.h; without the CUDA build they answer ERR_NOT_COMPILED) ----
// Addresses are device pointers as doubles; statuses are numbers (message in lastError()).

void *addr_arg(const Napi::CallbackInfo &info, size_t i) {
  double v = info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : 0;
  return v > 0 && v < 9.0e15 ? (void *)(uintptr_t)v : nullptr;
}
size_t size_arg(const Napi::CallbackInfo &info, size_t i) {
  double v = info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
  return v >= 0 && v < 1.8e19 ? (size_t)v : (size_t)-1;
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), kiln_cuda_device_count());
}

// cudaProps(device) -> { name, totalMemory, smCount, major, minor } or null (lastError()).
Napi::Value CudaProps(const Napi::CallbackInfo &info) {
  kiln_cuda_props p;
  if (kiln_cuda_device_props(inst(info)->ctx, device_arg(info, 0), &p) != KILN_OK) return info.Env().Null();
  auto o = Napi::Object::New(info.Env());
  o["name"] = p.name;
  o["totalMemory"] = (double)p.total_memory;
  o["smCount"] = p.sm_count;
  o["major"] = p.major;
  o["minor"] = p.minor;
  return o;
}

// cudaAlloc(device, nbytes) -> address, 0 on failure (lastError() says why: ERR_OOM with sizes).
Napi::Value CudaAlloc(const Napi::CallbackInfo &info) {
  size_t n = size_arg(info, 1);
  watch_gc(info.Env(), inst(info));
  void *p = kiln_cuda_alloc(inst(info)->ctx, device_arg(info, 0), n);
  return Napi::Number::New(info.Env(), (double)(uintptr_t)p);
}

Napi::Value CudaFree(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), kiln_cuda_free(inst(info)->ctx, device_arg(info, 0), addr_arg(info, 1)));
}

// cudaCopyIn(device, address, typedArray) / cudaCopyOut(device, address, typedArray) -> status.
Napi::Value CudaCopy(const Napi::CallbackInfo &info, bool in) {
  if (info.Length() < 3 || !info[2].IsTypedArray()) return Napi::Number::New(info.Env(), KILN_ERR_ARG);
  auto ta = info[2].As<Napi::TypedArray>();
  char *js = (char *)ta.ArrayBuffer().Data() + ta.ByteOffset();
  kiln_context *ctx = inst(info)->ctx;
  int dev = device_arg(info, 0);
  kiln_status st = in ? kiln_cuda_copy_h2d(ctx, dev, addr_arg(info, 1), js, ta.ByteLength())
                      : kiln_cuda_copy_d2h(ctx, dev, js, addr_arg(info, 1), ta.ByteLength(), nullptr, 0);
  return Napi::Number::New(info.Env(), st);
}
Napi::Value CudaCopyIn(const Napi::CallbackInfo &info) { return CudaCopy(info, true); }
Napi::Value CudaCopyOut(const Napi::CallbackInfo &info) { return CudaCopy(info, false); }

// cudaCopyD2D(device, dst, src, nbytes) -> status (enqueued on the device's stream).
Napi::Value CudaCopyD2D(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), kiln_cuda_copy_d2d(inst(info)->ctx, device_arg(info, 0), addr_arg(info, 1),
                                                          addr_arg(info, 2), size_arg(info, 3)));
}

// The async read: on the main thread the bytes are snapshotted into a scratch block (a device
// copy enqueued after every op so far, so later in-place ops cannot change what is read); a worker
// thread waits for it and copies it out; the promise resolves with [status, message].
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, Instance *I, int dev, void *src, void *tmp, Napi::TypedArray ta)
      : Napi::AsyncWorker(env),
        shared_(I->shared),
        dev_(dev),
        src_(tmp ? tmp : src),
        tmp_(tmp),
        deferred_(Napi::Promise::Deferred::New(env)) {
    dst_ = (char *)ta.ArrayBuffer().Data() + ta.ByteOffset();
    n_ = ta.ByteLength();
    keep_ = Napi::Persistent(ta.As<Napi::Object>());
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { st_ = kiln_cuda_copy_d2h(shared_->ctx, dev_, dst_, src_, n_, msg_, sizeof msg_); }
  void OnOK() override { settle(); }
  void OnError(const Napi::Error &) override { settle(); }

 private:
  void settle() {
    if (tmp_) kiln_cuda_free(shared_->ctx, dev_, tmp_);
    auto r = Napi::Array::New(Env(), 2);
    r[(uint32_t)0] = Napi::Number::New(Env(), st_);
    r[(uint32_t)1] = Napi::String::New(Env(), st_ == KILN_OK ? "" : msg_);
    deferred_.Resolve(r);
  }
  std::shared_ptr<Context> shared_;  // the context outlives the read
  int dev_;
  const void *src_;
  void *tmp_;
  char *dst_ = nullptr;
  size_t n_ = 0;
  Napi::ObjectReference keep_;  // the destination stays alive while the worker writes it
  Napi::Promise::Deferred deferred_;
  kiln_status st_ = KILN_OK;
  char msg_[512] = {0};
};

// cudaReadAsync(device, address, typedArray) -> Promise<[status, message]>.
Napi::Value CudaReadAsync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Instance *I = inst(info);
  if (info.Length() < 3 || !info[2].IsTypedArray()) {
    auto d = Napi::Promise::Deferred::New(env);
    auto r = Napi::Array::New(env, 2);
    r[(uint32_t)0] = Napi::Number::New(env, KILN_ERR_ARG);
    r[(uint32_t)1] = Napi::String::New(env, "read: expected (device, address, typedArray)");
    d.Resolve(r);
    return d.Promise();
  }
  int dev = device_arg(info, 0);
  void *src = addr_arg(info, 1);
  auto ta = info[2].As<Napi::TypedArray>();
  size_t n = ta.ByteLength();
  void *tmp = nullptr;
  if (n && kiln_cuda_block_room(I->ctx, dev, src) >= n) {
    tmp = kiln_cuda_alloc(I->ctx, dev, n);
    if (tmp && kiln_cuda_copy_d2d(I->ctx, dev, tmp, src, n) != KILN_OK) {
      kiln_cuda_free(I->ctx, dev, tmp);
      tmp = nullptr;
    }
  } else if (n) {
    src = nullptr;  // not a live block: let the copy report it
  }
  auto *w = new ReadWorker(env, I, dev, src, tmp, ta);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value CudaSynchronize(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), kiln_cuda_synchronize(inst(info)->ctx, device_arg(info, 0)));
}

// cudaMemoryStats(device) -> the allocator's figures (as memoryStats()), or null (lastError()).
Napi::Value CudaMemoryStats(const Napi::CallbackInfo &info) {
  kiln_memory_stats s;
  if (kiln_cuda_memory_stats(inst(info)->ctx, device_arg(info, 0), &s) != KILN_OK) return info.Env().Null();
  auto o = Napi::Object::New(info.Env());
  o["liveBytes"] = (double)s.live_bytes;
  o["liveBlocks"] = (double)s.live_blocks;
  o["cachedBytes"] = (double)s.cached_bytes;
  o["cachedBlocks"] = (double)s.cached_blocks;
  o["peakBytes"] = (double)s.peak_bytes;
  o["allocCalls"] = (double)s.alloc_calls;
  o["cacheHits"] = (double)s.cache_hits;
  return o;
}

Napi::Value CudaEmptyCache(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), kiln_cuda_empty_cache(inst(info)->ctx, device_arg(info, 0)));
}

Napi::Value CudaOpSupported(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), kiln_cuda_op_supported(info[0].As<Napi::Number>().Int32Value()) != 0);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto *I = new Instance();
  I->ctx = kiln_context_create(0, nullptr);
  if (!I->ctx) {
    delete I;
    Napi::Error::New(env, "kiln: could not create the native context (out of memory)").ThrowAsJavaScriptException();
    return exports;
  }
  I->shared = std::shared_ptr<Context>(new Context{I->ctx});
  env.SetInstanceData<Instance>(I);  // deleted with the environment; zero-copy buffers keep `shared`
  auto block = Napi::Float64Array::New(env, kBlockDoubles);
  I->block = (double *)block.Data();
  I->block_ref = Napi::Persistent(block);
  exports["argBlock"] = block;
  exports["descDoubles"] = kDescDoubles;
  exports["attrBase"] = kAttrBase;
  exports["gcSlot"] = kGcSlot;
  exports["track"] = Napi::Function::New(env, Track);
  exports["sweep"] = Napi::Function::New(env, Sweep);
  exports["adjustExternal"] = Napi::Function::New(env, AdjustExternal);
  exports["run"] = Napi::Function::New(env, Run);
  exports["alloc"] = Napi::Function::New(env, Alloc);
  exports["optimStep"] = Napi::Function::New(env, OptimStep);
  exports["free"] = Napi::Function::New(env, Free);
  exports["view"] = Napi::Function::New(env, View);
  exports["copyIn"] = Napi::Function::New(env, CopyIn);
  exports["copyOut"] = Napi::Function::New(env, CopyOut);
  exports["lastError"] = Napi::Function::New(env, LastError);
  exports["memoryStats"] = Napi::Function::New(env, MemoryStats);
  exports["emptyCache"] = Napi::Function::New(env, EmptyCache);
  exports["info"] = Napi::Function::New(env, Info);
  exports["cudaDeviceCount"] = Napi::Function::New(env, CudaDeviceCount);
  exports["cudaProps"] = Napi::Function::New(env, CudaProps);
  exports["cudaAlloc"] = Napi::Function::New(env, CudaAlloc);
  exports["cudaFree"] = Napi::Function::New(env, CudaFree);
  exports["cudaCopyIn"] = Napi::Function::New(env, CudaCopyIn);
  exports["cudaCopyOut"] = Napi::Function::New(env, CudaCopyOut);
  exports["cudaCopyD2D"] = Napi::Function::New(env, CudaCopyD2D);
  exports["cudaReadAsync"] = Napi::Function::New(env, CudaReadAsync);
  exports["cudaSynchronize"] = Napi::Function::New(env, CudaSynchronize);
  exports["cudaMemoryStats"] = Napi::Function::New(env, CudaMemoryStats);
  exports["cudaEmptyCache"] = Napi::Function::New(env, CudaEmptyCache);
  exports["cudaOpSupported"] = Napi::Function::New(env, CudaOpSupported);
  kiln::napi::bench_ref_register(env, exports, I->ctx);  // refBlas, fmaPeak: for kiln bench gemm only
  return exports;
}

}  // namespace

NODE_API_MODULE(kiln, Init)
