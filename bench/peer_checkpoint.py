#!/usr/bin/python3
"""peer_checkpoint.py -- PyTorch (CPU) peer of B7 checkpoint-step (bench/b7_checkpoint.c).

One training step (forward + backward, no update) of a 64-layer MLP, width 512,
batch 128, h = tanh(h W + b) per layer, f32, loss mean(h^2): the whole graph
(mode=whole) against torch.utils.checkpoint.checkpoint every 8 layers
(use_reentrant=False; mode=ckpt).  Each mode runs in its own child process
(torch.set_num_threads(1), OMP/OPENBLAS/MKL_NUM_THREADS=1) so that peak_rss_mb
(ru_maxrss) belongs to it alone.  Lines, as bench_b7 prints them:

  B7 checkpoint-step mode=M layers=64 width=512 batch=128 every=8 threads=1 median_ms=... min_ms=... max_ms=... peak_rss_mb=...
  # B7 torch mem mode=M kept_mb=... peak_rss_mb=... loss=...

kept_mb: the bytes of the tensors autograd keeps for backward after the forward
pass, parameters aside (counted once per storage through saved_tensors_hooks),
torch's side of tapegrad's kept_mb; torch has no arena high water to report
beside peak_mb.  With use_reentrant=False, checkpoint keeps each segment's
inputs through hooks of its own, which ours do not see: in mode=ckpt kept_mb
is the saved tensors outside the segments only (the loss's).

Usage: /usr/bin/python3 bench/peer_checkpoint.py [--modes whole,ckpt] [--reps N] [--warmup N]
       [--layers N] [--width N] [--batch N] [--every N]
"""
import argparse
import os
import resource
import subprocess
import sys
import time


def child(a):
    import torch
    from torch.utils.checkpoint import checkpoint

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(a.batch, a.width, generator=g)
    ws = [(torch.randn(a.width, a.width, generator=g) / a.width ** 0.5).requires_grad_()
          for _ in range(a.layers)]
    bs = [torch.full((1, a.width), 0.01).requires_grad_() for _ in range(a.layers)]

    def segment(h, *wb):
        for k in range(0, len(wb), 2):
            h = torch.tanh(h @ wb[k] + wb[k + 1])
        return h

    kept = {}
    params = {p.data_ptr() for p in ws + bs}  # kept_mb counts activations, as tapegrad's

    def pack(t):
        # untyped_storage() from torch 2.0; storage() before
        st = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
        key = st.data_ptr()
        if key in params:
            return t
        kept[key] = max(kept.get(key, 0), st.nbytes())
        return t

    def step(count):
        for p in ws + bs:
            p.grad = None
        h = x
        if count:
            kept.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t) if count \
                else _null():
            for l in range(0, a.layers, a.every):
                wb = []
                for j in range(l, min(l + a.every, a.layers)):
                    wb += [ws[j], bs[j]]
                if a.mode == "ckpt":
                    h = checkpoint(segment, h, *wb, use_reentrant=False)
                else:
                    h = segment(h, *wb)
            loss = (h * h).mean()
        kept_bytes = sum(kept.values()) if count else 0
        loss.backward()
        return float(loss), kept_bytes

    for _ in range(a.warmup):
        step(False)
    ms = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        loss, _ = step(False)
        ms.append((time.perf_counter() - t0) * 1e3)
    loss, kept_bytes = step(True)
    rss = int(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
    ms.sort()
    n = len(ms)
    med = ms[n // 2] if n % 2 else (ms[n // 2 - 1] + ms[n // 2]) / 2
    print("# B7 torch mem mode=%s kept_mb=%.1f peak_rss_mb=%d loss=%.6f dW0[0]=%.6g torch=%s"
          % (a.mode, kept_bytes / 2 ** 20, rss, loss, float(ws[0].grad[0, 0]), torch.__version__))
    print("B7 checkpoint-step mode=%s layers=%d width=%d batch=%d every=%d threads=1 "
          "median_ms=%.3f min_ms=%.3f max_ms=%.3f peak_rss_mb=%d"
          % (a.mode, a.layers, a.width, a.batch, a.every, med, ms[0], ms[-1], rss))
    sys.stdout.flush()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--modes", default="whole,ckpt")
    p.add_argument("--mode", default=None, help=argparse.SUPPRESS)  # the child's
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--layers", type=int, default=64)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--every", type=int, default=8)
    a = p.parse_args()
    if a.mode:
        child(a)
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for mode in a.modes.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), "--mode", mode]
        for k in ("reps", "warmup", "layers", "width", "batch", "every"):
            cmd += ["--" + k, str(getattr(a, k))]
        sys.stdout.flush()
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
