"""PyTorch as the test oracle for the recurrent layers: run ours and torch's module on the same
inputs and compare values and gradients (shared by the tests of the recurrent layers)."""

import torch

F64 = 1e-10
F32 = 1e-5

SWEEP = [
    # input_size, hidden_size, num_layers, bidirectional, seq_len, batch, bias
    (1, 1, 1, False, 1, 1, True),
    (3, 4, 1, False, 6, 2, True),
    (3, 4, 2, False, 4, 3, False),
    (5, 2, 1, True, 3, 4, True),
    (2, 5, 3, True, 5, 2, True),
    (4, 3, 2, True, 1, 1, False),
]


def make_pair(ours_class, theirs_class, dtype=torch.float64, **kwargs):
    """torch's module and ours with the same arguments and torch's weights, loaded by name."""
    theirs = theirs_class(dtype=dtype, **kwargs)
    ours = ours_class(dtype=dtype, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def flat(result):
    """(output, h_n) or (output, (h_n, c_n)) -> a list of tensors; a cell's h -> [h].

    A packed output contributes its ``data``.
    """
    if isinstance(result, torch.Tensor):
        return [result]
    output, hidden = result
    output = output.data if hasattr(output, "batch_sizes") else output
    return [output, *(hidden if isinstance(hidden, tuple) else (hidden,))]


def assert_same_as_torch(ours, theirs, leaves, call, atol):
    """Run ``call(module, *leaves)`` on both modules and compare values and gradients.

    The loss is a fixed random weighting of every returned tensor, so every element of the
    output and of the final state sends its own gradient back.
    """
    values, grads = [], []
    for module in (ours, theirs):
        inputs = [leaf.detach().clone().requires_grad_() for leaf in leaves]
        tensors = flat(call(module, *inputs))
        weights = torch.Generator().manual_seed(1)
        loss = sum(
            (t * torch.randn(t.shape, generator=weights, dtype=t.dtype).to(t.device)).sum()
            for t in tensors
        )
        loss.backward()
        values.append(tensors)
        grads.append(
            {name: p.grad for name, p in module.named_parameters()}
            | {f"input {i}": x.grad for i, x in enumerate(inputs)}
        )
    assert len(values[0]) == len(values[1])
    for mine, torchs in zip(*values):
        torch.testing.assert_close(mine, torchs, atol=atol, rtol=0)
    assert grads[0].keys() == grads[1].keys()
    for name, torchs in grads[1].items():
        assert grads[0][name] is not None and torchs is not None, name
        torch.testing.assert_close(grads[0][name], torchs, atol=atol, rtol=0, msg=name)
