"""PyTorch's numbers for the CUDA kernels' shapes, timed on the same GPU in the same run as kiln's
(scripts/gpu_check.sh runs this after kiln's tests and benches). One JSON line per measurement,
like native/cuda/test/harness.cuh's records: name, ms (median of CUDA-event timings after warm-up),
bytes or flops, and the rate. Bytes are the minimum an op must move (read + write)."""
import json
import sys
import time

import torch
import torch.nn.functional as F

dev = torch.device('cuda')
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
GiB = 1 << 30


def time_ms(fn, reps=20, warm=3):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    ts.sort()
    return ts[len(ts) // 2]


def report(name, ms, bytes_=None, flops=None, **extra):
    rec = {'kind': 'torch', 'name': name, 'ms': round(ms, 4)}
    if bytes_ is not None:
        rec['bytes'] = bytes_
        rec['gbs'] = round(bytes_ / (ms * 1e-3) / 1e9, 1)
    if flops is not None:
        rec['gflops'] = round(flops / (ms * 1e-3) / 1e9, 1)
    rec.update(extra)
    print(json.dumps(rec), flush=True)


def main():
    print(json.dumps({'kind': 'torch_info', 'torch': torch.__version__, 'device': torch.cuda.get_device_name()}))
    n = GiB // 4  # 1 GiB of float32
    x = torch.randn(n, device=dev)
    y = torch.empty_like(x)
    report('copy', time_ms(lambda: y.copy_(x)), 2 * GiB)
    z = torch.randn(n, device=dev)
    report('add', time_ms(lambda: torch.add(x, z, out=y)), 3 * GiB)
    report('gelu', time_ms(lambda: F.gelu(x)), 2 * GiB)
    report('sum', time_ms(lambda: x.sum()), GiB)
    report('cast_f32_bf16', time_ms(lambda: x.to(torch.bfloat16)), GiB + GiB // 2)
    del z, y

    rows = x.view(262144, 1024)
    report('softmax', time_ms(lambda: torch.softmax(rows, -1)), 2 * GiB)
    sm = torch.softmax(rows, -1)
    g = torch.randn_like(rows)
    report('softmax_backward', time_ms(lambda: torch._softmax_backward_data(g, sm, -1, torch.float32)), 3 * GiB)
    del sm
    w, b = torch.randn(1024, device=dev), torch.randn(1024, device=dev)
    report('layer_norm', time_ms(lambda: F.layer_norm(rows, (1024,), w, b)), 2 * GiB)
    xr = rows.detach().requires_grad_()
    wr, br = w.clone().requires_grad_(), b.clone().requires_grad_()
    out = F.layer_norm(xr, (1024,), wr, br)
    report('layer_norm_fwd_bwd', time_ms(lambda: torch.autograd.grad(F.layer_norm(xr, (1024,), wr, br), (xr, wr, br), g)), 5 * GiB)
    del out, xr, g

    logits = x.view(65536, 4096)
    target = torch.randint(0, 4096, (65536,), device=dev)
    report('cross_entropy', time_ms(lambda: F.cross_entropy(logits, target)), GiB)
    lr = logits.detach().requires_grad_()
    report('cross_entropy_fwd_bwd', time_ms(lambda: torch.autograd.grad(F.cross_entropy(lr, target), lr)), 3 * GiB)
    del lr, logits, rows, x
    torch.cuda.empty_cache()

    # AdamW over 100M float32 parameters in 10 tensors; 28 bytes per parameter (p, g, m, v read; p, m, v written).
    params = [torch.randn(10_000_000, device=dev, requires_grad=True) for _ in range(10)]
    for p in params:
        p.grad = torch.randn_like(p)
    for fused in (True, False):
        opt = torch.optim.AdamW(params, lr=1e-3, fused=fused, foreach=None if fused else True)
        opt.step()
        report('adamw_fused' if fused else 'adamw_foreach', time_ms(opt.step), 28 * 100_000_000)
    del params, opt
    torch.cuda.empty_cache()

    for dt, name in ((torch.float32, 'matmul_f32_4096'),):
        a = torch.randn(4096, 4096, device=dev, dtype=dt)
        bm = torch.randn(4096, 4096, device=dev, dtype=dt)
        report(name, time_ms(lambda: a @ bm), flops=2 * 4096 ** 3)

    # Per-op dispatch on a tiny tensor: 1000 in-place adds, wall time per op (host-bound).
    t = torch.zeros(1, device=dev)
    for _ in range(100):
        t.add_(1)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(1000):
        t.add_(1)
    torch.cuda.synchronize()
    per_op_ms = (time.perf_counter() - t0) * 1e3 / 1000
    report('tiny_add_dispatch', per_op_ms, us_per_op=round(per_op_ms * 1e3, 2))


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # a reference must not hide kiln's results: say what failed and stop
        print(json.dumps({'kind': 'torch_error', 'error': repr(e)}))
        sys.exit(1)
