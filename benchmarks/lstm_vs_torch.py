"""Forward and forward+backward time of three LSTMs on CPU (issue 6, lecture 4).

torch.nn.LSTM (oneDNN's fused RNN kernel on CPU), course_lib.LSTM under autograd, and
course_lib.LSTM(backend="manual"), whose backward is the hand-written BPTT of
course_lib.lstm_manual. float32, 2 threads, one layer, same weights (load_state_dict).
Medians over interleaved repetitions (each round times every model once, so drifting machine
load hits all of them alike). The last line is ``ratio_fwd_bwd=<manual / torch at B32 T64 H128>``.

    python benchmarks/lstm_vs_torch.py
"""

import statistics
import time

import torch

from course_lib.lstm import LSTM

SIZES = [  # (B, T, I, H)
    (32, 64, 64, 128),
    (64, 100, 128, 256),
]
WARMUP, ROUNDS = 3, 25


def _timers(model: torch.nn.Module, x: torch.Tensor):
    def forward() -> None:
        model(x)

    def forward_backward() -> None:
        output, _ = model(x)
        output.sum().backward()

    return forward, forward_backward


def _median_ms(timers: dict, rounds: int) -> dict:
    samples = {name: [] for name in timers}
    for _ in range(rounds):
        for name, fn in timers.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(s) for name, s in samples.items()}


def run_size(B: int, T: int, I: int, H: int) -> dict:
    torch.manual_seed(0)
    reference = torch.nn.LSTM(I, H)
    models = {"torch.nn.LSTM": reference}
    for name, backend in (("ours (autograd)", "autograd"), ("ours (manual BPTT)", "manual")):
        models[name] = LSTM(I, H, backend=backend)
        models[name].load_state_dict(reference.state_dict())
    x = torch.randn(T, B, I, requires_grad=True)
    timers = {}
    for name, model in models.items():
        forward, forward_backward = _timers(model, x)
        timers[(name, "fwd")] = forward
        timers[(name, "fwd+bwd")] = forward_backward
    for fn in timers.values():
        for _ in range(WARMUP):
            fn()
    ms = _median_ms(timers, ROUNDS)
    print(f"\nB={B} T={T} I={I} H={H} float32, {torch.get_num_threads()} threads, "
          f"median of {ROUNDS} (ms, ratio to torch)")
    for name in models:
        fwd, fb = ms[(name, "fwd")], ms[(name, "fwd+bwd")]
        t_fwd, t_fb = ms[("torch.nn.LSTM", "fwd")], ms[("torch.nn.LSTM", "fwd+bwd")]
        print(f"  {name:20s} fwd {fwd:8.2f} ({fwd / t_fwd:4.2f}x)   "
              f"fwd+bwd {fb:8.2f} ({fb / t_fb:4.2f}x)")
    return ms


def main() -> None:
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}")
    results = {size: run_size(*size) for size in SIZES}
    ms = results[SIZES[0]]
    ratio = ms[("ours (manual BPTT)", "fwd+bwd")] / ms[("torch.nn.LSTM", "fwd+bwd")]
    print(f"ratio_fwd_bwd={ratio:.3f}")


if __name__ == "__main__":
    main()
