"""PyTorch eager reference for vaetool's training throughput: exactly vaetool's models, loss
and optimizer, timed the same way as `benches/throughput.rs`.

Models (both Bernoulli likelihood on 784 inputs in [0, 1], latent 10, KL to N(0, I)):
  mlp   the VaDE-size MLP VAE 784-500-500-2000-10 (ReLU; mu and log-variance heads; mirror
        decoder; output logits)
  conv  the conv VAE for 28x28: 3 x (conv 4x4 stride 2 padding 1, ReLU) 1->32->64->128,
        flatten, Linear 1152->256 ReLU, heads; decoder Linear 10->256 ReLU, Linear 256->1152
        ReLU, 3 x transposed conv 4x4 stride 2 padding 1 (output padding 1, 0, 0),
        128->64->32->1, ReLU between
  tab   the default tabular model for 20 columns: 20-128-64-5 (--hidden changes the widths),
        unit-variance Gaussian
        likelihood (0.5 * squared error summed over columns); also times scoring: the negative
        ELBO with 10 posterior samples (encode once, decode 10 times) of 100,000 rows in
        blocks of 4,096, under no_grad, in rows/s
Loss per batch: mean over rows of [BCE-with-logits summed over inputs + KL]; log-variance
clamped to [-30, 20]; Adam lr 1e-3, eps 1e-8; gradient norm clipped to 10. Random data in
[0, 1]; the loss is read back to the host once per epoch (as vaetool does).

    python3 benches/reference/vae_torch.py --model mlp --device cuda --batch 256
    python3 benches/reference/vae_torch.py --model conv --device cpu --threads 2 --batch 128

Prints one line: model, device, batch, warm-up seconds (first epoch), samples/s (steady state).
"""
import argparse
import time

import torch
from torch import nn
import torch.nn.functional as F


class MlpVae(nn.Module):
    def __init__(self, d=784, hidden=(500, 500, 2000), latent=10):
        super().__init__()
        enc, prev = [], d
        for h in hidden:
            enc += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        self.enc = nn.Sequential(*enc)
        self.mu, self.logvar = nn.Linear(prev, latent), nn.Linear(prev, latent)
        dec, prev = [], latent
        for h in reversed(hidden):
            dec += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        self.dec = nn.Sequential(*dec, nn.Linear(prev, d))

    def forward(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h).clamp(-30, 20)

    def decode(self, z):
        return self.dec(z)


class ConvVae(nn.Module):
    def __init__(self, latent=10):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(64, 128, 4, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(1152, 256), nn.ReLU())
        self.mu, self.logvar = nn.Linear(256, latent), nn.Linear(256, latent)
        self.dec = nn.Sequential(nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 1152), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def forward(self, x):
        h = self.enc(x.view(-1, 1, 28, 28))
        return self.mu(h), self.logvar(h).clamp(-30, 20)

    def decode(self, z):
        return self.up(self.dec(z).view(-1, 128, 3, 3)).flatten(1)


def recon_nll(out, xb, gaussian):
    if gaussian:
        return 0.5 * (out - xb).pow(2).sum(1) + 0.5 * xb.shape[1] * 1.8378770664093453
    return F.binary_cross_entropy_with_logits(out, xb, reduction="none").sum(1)


def epoch(model, opt, x, batch, gaussian=False):
    total = torch.zeros((), device=x.device)
    for i in range(0, x.shape[0], batch):
        xb = x[i:i + batch]
        mu, lv = model(xb)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        recon = recon_nll(model.decode(z), xb, gaussian)
        kl = 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(1)
        loss = (recon + kl).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        total += loss.detach()
    return total.item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["mlp", "conv", "tab"], default="mlp")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rows", type=int, default=0, help="rows per epoch (default 32 batches)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--hidden", default="128,64", help="tab: hidden widths (vaetool's default)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dev = torch.device(a.device)
    rows = a.rows or 32 * a.batch
    gaussian = a.model == "tab"
    d = 20 if gaussian else 784
    x = torch.rand(rows, d, device=dev)
    model = {"mlp": lambda: MlpVae(), "conv": lambda: ConvVae(),
             "tab": lambda: MlpVae(20, tuple(int(h) for h in a.hidden.split(",")), 5)
             }[a.model]().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    t = time.perf_counter()
    epoch(model, opt, x, a.batch, gaussian)
    sync()
    warm = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(a.epochs):
        epoch(model, opt, x, a.batch, gaussian)
    sync()
    rate = rows * a.epochs / (time.perf_counter() - t)
    print(f"torch {a.model} {a.device} batch {a.batch}: warm-up {warm:.2f} s, {rate:.0f} samples/s")
    if gaussian:
        big = torch.rand(100_000, d, device=dev)
        t = time.perf_counter()
        with torch.no_grad():
            scores = []
            for i in range(0, big.shape[0], 4096):
                xb = big[i:i + 4096]
                mu, lv = model(xb)
                recon = torch.zeros(xb.shape[0], device=dev)
                for _ in range(10):
                    z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
                    recon += recon_nll(model.decode(z), xb, True)
                kl = 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(1)
                scores.append(recon / 10 + kl)
            mean = torch.cat(scores).mean().item()
        sync()
        rate = big.shape[0] / (time.perf_counter() - t)
        print(f"torch score {a.device} (10 samples): {rate:.0f} rows/s (mean score {mean:.4f})")


if __name__ == "__main__":
    main()
