"""PyTorch twin of `benches/gemm.rs`: the matrix products of one training step of the
VaDE-size MLP VAE, timed alone, same shapes and transposes, same output format.

    python3 benches/reference/gemm_torch.py [BATCH] [REPEATS] [THREADS]
"""
import sys
import time

import torch

LAYERS = [(784, 500), (500, 500), (500, 2000), (2000, 10), (2000, 10),
          (10, 2000), (2000, 500), (500, 500), (500, 784)]


def main():
    b = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    total_secs = total_flop = 0.0
    for i, (n_in, n_out) in enumerate(LAYERS):
        x, w, dy = (torch.rand(b, n_in) * 2 - 1, torch.rand(n_in, n_out) * 2 - 1,
                    torch.rand(b, n_out) * 2 - 1)
        cases = [("fwd", lambda: x @ w), ("dX", lambda: dy @ w.t()), ("dW", lambda: x.t() @ dy)]
        for name, f in cases:
            f()
            t = time.perf_counter()
            for _ in range(repeats):
                f()
            secs = (time.perf_counter() - t) / repeats
            flop = 2.0 * b * n_in * n_out
            total_secs += secs
            total_flop += flop
            print(f"torch layer {i} {n_in}x{n_out} {name}: {flop / secs / 1e9:.1f} GFLOP/s")
    print(f"torch step products batch {b}: {total_secs * 1e3:.2f} ms, "
          f"{total_flop / total_secs / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
