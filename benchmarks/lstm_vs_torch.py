"""Forward and forward+backward time of three LSTMs on CPU (issue 6, lecture 4).

torch.nn.LSTM (oneDNN's fused RNN kernel on CPU), course_lib.LSTM under autograd, and
course_lib.LSTM(backward="manual"), whose backward is the hand-written BPTT of
course_lib.lstm_manual. float32, 2 threads, one layer, same weights (load_state_dict).
Medians over interleaved repetitions (each round times every model once, so drifting machine
load hits all of them alike). The last line is ``ratio_fwd_bwd=<manual / torch at B32 T64 H128>``.

One more row, "its matmuls alone", times only the matrix products the manual backward issues
(the input projection, one addmm per step each way, the three weight/input-gradient products)
and nothing else: a floor for any LSTM built from torch's public float32 matmuls, measured in
the same run as the ratio it bounds.

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


def _matmul_floor(B: int, T: int, I: int, H: int):
    """The matmuls of course_lib.lstm_manual at this size, with nothing between them."""
    x = torch.randn(T * B, I)
    w_ih, w_hh = torch.randn(4 * H, I), torch.randn(4 * H, H)
    gates, dgates = torch.randn(T, B, 4 * H), torch.randn(T, B, 4 * H)
    hs, grad_output, dh = torch.randn(T + 1, B, H), torch.randn(T, B, H), torch.empty(B, H)

    def forward() -> None:
        torch.mm(x, w_ih.t(), out=gates.view(T * B, 4 * H))  # (T*B, 4H) input projection
        for t in range(T):
            gates[t].addmm_(hs[t], w_hh.t())  # (B, 4H) recurrent term of step t

    def forward_backward() -> None:
        forward()
        for t in range(T - 1, 0, -1):
            torch.addmm(grad_output[t - 1], dgates[t], w_hh, out=dh)  # (B, H) δh_{t-1}
        torch.mm(dgates[0], w_hh)  # (B, H) δh0
        flat = dgates.view(T * B, 4 * H)  # (T*B, 4H)
        torch.mm(flat, w_ih)  # (T*B, I) ∇x
        torch.mm(flat.t(), x)  # (4H, I) ∇W_ih
        torch.mm(flat.t(), hs[:-1].reshape(T * B, H))  # (4H, H) ∇W_hh

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
    for name, backward in (("ours (autograd)", "autograd"), ("ours (manual BPTT)", "manual")):
        models[name] = LSTM(I, H, backward=backward)
        models[name].load_state_dict(reference.state_dict())
    x = torch.randn(T, B, I, requires_grad=True)
    timers = {}
    for name, model in models.items():
        forward, forward_backward = _timers(model, x)
        timers[(name, "fwd")] = forward
        timers[(name, "fwd+bwd")] = forward_backward
    floor = "  its matmuls alone"
    timers[(floor, "fwd")], timers[(floor, "fwd+bwd")] = _matmul_floor(B, T, I, H)
    for fn in timers.values():
        for _ in range(WARMUP):
            fn()
    ms = _median_ms(timers, ROUNDS)
    print(f"\nB={B} T={T} I={I} H={H} float32, {torch.get_num_threads()} threads, "
          f"median of {ROUNDS} (ms, ratio to torch)")
    for name in [*models, floor]:
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
