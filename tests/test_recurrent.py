"""nn.RNN, nn.LSTM, nn.GRU and their cells: float64 gradchecks over drawn settings (input, h0, c0 and every
parameter), one LSTM step against plain NumPy, the fused LSTM loop against the composed steps, the GPU stand-in,
clear errors, and, where torch is installed, names, shapes, reprs, outputs and every gradient against torch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygan
from tinygan import nn
from tinygan.nn import recurrent

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}


# ==================================================================================================
# Helpers
# ==================================================================================================
@pytest.fixture(params=[True, False], ids=["fused", "composed"])
def fused(request, monkeypatch):
    """Run the test with the LSTM layers' fused time loop and again with the composed steps."""
    monkeypatch.setattr(recurrent, "FUSED_LSTM", request.param)
    return request.param


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def flat(result):
    """(output, h_n) or (output, (h_n, c_n)) or a cell's h' or (h', c') as a flat list of tensors."""
    if not isinstance(result, tuple):
        return [result]
    return [t for part in result for t in (part if isinstance(part, tuple) else (part,))]


def weighted_sum(result, seed=3):
    """sum(w * y) over every output with fixed random weights: a scalar whose gradient reaches every output."""
    rng = np.random.default_rng(seed)
    total = 0
    for y in flat(result):
        total = total + (y * tinygan.tensor(rng.standard_normal(y.shape))).sum()
    return total


def states_for(layer, batch, batched, rng):
    """Random (h0,) or (h0, c0) arrays of the shape the layer expects."""
    rows = layer.num_layers * layer.num_directions if isinstance(layer, recurrent.RNNBase) else None
    shape = ((rows,) if rows else ()) + ((batch,) if batched else ()) + (layer.hidden_size,)
    return [rng.standard_normal(shape) for _ in range(2 if "LSTM" in layer.mode else 1)]


def hx_of(states):
    return tuple(states) if len(states) == 2 else states[0]


def gradcheck_module(module, x, states):
    """gradcheck of weighted_sum(module(x, states)) with respect to x, the states and every parameter (the
    parameters' arrays are swapped for the perturbed ones gradcheck passes)."""
    params = list(module.parameters())
    n_states = len(states)

    def fn(x, *rest):
        given_states, ps = rest[:n_states], rest[n_states:]
        own = [p.array for p in params]
        for p, t in zip(params, ps):
            p.array = t.array
        try:
            return weighted_sum(module(x, hx_of(given_states) if given_states else None))
        finally:
            for p, a in zip(params, own):
                p.array = a
    return tinygan.gradcheck(fn, [x, *states, *params], eps=1e-6, atol=1e-6, rtol=1e-4)


# ==================================================================================================
# Gradients: finite differences in float64
# ==================================================================================================
@st.composite
def layer_cases(draw):
    return dict(mode=draw(st.sampled_from(["RNN", "RNN_relu", "LSTM", "GRU"])),
                seq=draw(st.integers(1, 4)), batch=draw(st.integers(1, 3)), batched=draw(st.booleans()),
                input_size=draw(st.integers(1, 4)), hidden=draw(st.integers(1, 4)), layers=draw(st.integers(1, 3)),
                bidirectional=draw(st.booleans()), batch_first=draw(st.booleans()), bias=draw(st.booleans()),
                with_h0=draw(st.booleans()), fused=draw(st.booleans()))


def make_layer(case):
    kwargs = dict(num_layers=case["layers"], bias=case["bias"], batch_first=case["batch_first"],
                  bidirectional=case["bidirectional"])
    if case["mode"] == "RNN_relu":
        return nn.RNN(case["input_size"], case["hidden"], nonlinearity="relu", **kwargs).double()
    return LAYERS[case["mode"]](case["input_size"], case["hidden"], **kwargs).double()


@settings(max_examples=30)
@given(case=layer_cases())
def test_layers_gradcheck_input_states_and_every_parameter(case):
    recurrent.FUSED_LSTM = case["fused"]
    try:
        layer = make_layer(case)
        rng = np.random.default_rng(1)
        seq, batch = case["seq"], case["batch"]
        shape = ((batch, seq) if case["batch_first"] else (seq, batch)) if case["batched"] else (seq,)
        x = tinygan.tensor(rng.standard_normal(shape + (case["input_size"],)), requires_grad=True)
        states = [tinygan.tensor(s, requires_grad=True) for s in states_for(layer, batch, case["batched"], rng)]
        states = states if case["with_h0"] else []
        assert gradcheck_module(layer, x, states)
    finally:
        recurrent.FUSED_LSTM = True


@settings(max_examples=20)
@given(name=st.sampled_from(sorted(CELLS)), batch=st.integers(1, 3), batched=st.booleans(),
       input_size=st.integers(1, 4), hidden=st.integers(1, 4), bias=st.booleans(), with_h=st.booleans())
def test_cells_gradcheck_input_state_and_every_parameter(name, batch, batched, input_size, hidden, bias, with_h):
    cell = CELLS[name](input_size, hidden, bias=bias).double()
    rng = np.random.default_rng(2)
    x = tinygan.tensor(rng.standard_normal(((batch,) if batched else ()) + (input_size,)), requires_grad=True)
    states = [tinygan.tensor(s, requires_grad=True) for s in states_for(cell, batch, batched, rng)] if with_h else []
    assert gradcheck_module(cell, x, states)


@pytest.mark.parametrize("name", ["GRU", "RNN", "LSTM"])
def test_second_derivatives_of_the_composed_steps(name, monkeypatch):
    monkeypatch.setattr(recurrent, "FUSED_LSTM", False)
    layer = LAYERS[name](3, 2, num_layers=2, bidirectional=True).double()
    x = tinygan.tensor(np.random.default_rng(0).standard_normal((3, 2, 3)), requires_grad=True)
    assert tinygan.gradgradcheck(lambda x: layer(x)[0], [x], atol=1e-5, rtol=1e-3)


def test_the_fused_lstm_gives_first_derivatives_under_create_graph_and_refuses_a_second():
    layer = nn.LSTM(3, 2).double()
    x = tinygan.tensor(np.random.default_rng(0).standard_normal((3, 2, 3)), requires_grad=True)
    (gx,) = tinygan.autograd.grad(layer(x)[0].sum(), [x], create_graph=True)
    recurrent.FUSED_LSTM = False
    try:
        (expected,) = tinygan.autograd.grad(layer(x)[0].sum(), [x])
    finally:
        recurrent.FUSED_LSTM = True
    np.testing.assert_allclose(gx.numpy(), expected.numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(tinygan.autograd.NoSecondDerivativeError, match="LSTMSequence"):
        (gx * gx).sum().backward()


# ==================================================================================================
# Forward against plain NumPy; fused against composed; the GPU stand-in
# ==================================================================================================
def test_one_lstm_step_matches_numpy(fused):
    rng = np.random.default_rng(0)
    layer = nn.LSTM(3, 4).double()
    x, h0, c0 = rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 2, 4)), rng.standard_normal((1, 2, 4))
    out, (h, c) = layer(tinygan.tensor(x), (tinygan.tensor(h0), tinygan.tensor(c0)))
    W_ih, W_hh, b_ih, b_hh = (p.numpy() for p in layer.parameters())
    a = x[0] @ W_ih.T + b_ih + h0[0] @ W_hh.T + b_hh
    i, f, g, o = sigmoid(a[:, :4]), sigmoid(a[:, 4:8]), np.tanh(a[:, 8:12]), sigmoid(a[:, 12:])
    c_expected = f * c0[0] + i * g
    h_expected = o * np.tanh(c_expected)
    np.testing.assert_allclose(c.numpy()[0], c_expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.numpy()[0], h_expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out.numpy()[0], h_expected, rtol=1e-12, atol=1e-14)


def test_one_gru_step_matches_numpy():
    rng = np.random.default_rng(0)
    cell = nn.GRUCell(3, 4).double()
    x, h0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    h = cell(tinygan.tensor(x), tinygan.tensor(h0)).numpy()
    W_ih, W_hh, b_ih, b_hh = (p.numpy() for p in cell.parameters())
    xw, hw = x @ W_ih.T + b_ih, h0 @ W_hh.T + b_hh
    r, z = sigmoid(xw[:, :4] + hw[:, :4]), sigmoid(xw[:, 4:8] + hw[:, 4:8])
    n = np.tanh(xw[:, 8:] + r * hw[:, 8:])
    np.testing.assert_allclose(h, (1 - z) * n + z * h0, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_and_composed_lstm_agree_on_outputs_and_gradients(dtype, monkeypatch):
    layer = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True).to(dtype=dtype)
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(dtype)
    results = []
    for fused in (True, False):
        monkeypatch.setattr(recurrent, "FUSED_LSTM", fused)
        layer.zero_grad(set_to_none=True)
        xt = tinygan.tensor(x, requires_grad=True)
        out = layer(xt)
        weighted_sum(out).backward()
        results.append([t.numpy() for t in flat(out)] + [xt.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for ours, composed in zip(*results):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, composed, rtol=tol, atol=tol)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_layers_on_the_gpu_standin_match_the_cpu(name, standin):
    layer = LAYERS[name](3, 4, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)

    def run(device):
        out = flat(layer(tinygan.tensor(x, device=device)))
        sum(((k + 1) * y).sum() for k, y in enumerate(out)).backward()
        return out, [p.grad for p in layer.parameters()]
    expected = [[t.numpy() for t in ts] for ts in run("cpu")]
    layer.to("gpu")
    layer.zero_grad(set_to_none=True)
    for got, want in zip(run("gpu"), expected):
        for g, e in zip(got, want):
            assert g.device == "gpu"
            np.testing.assert_allclose(g.numpy(), e, rtol=1e-5, atol=1e-5)


# ==================================================================================================
# Layout, dropout, clear errors
# ==================================================================================================
def test_shapes_of_outputs_and_states():
    layer = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    out, (h, c) = layer(tinygan.zeros(5, 7, 3))
    assert out.shape == (5, 7, 8) and h.shape == (4, 5, 4) and c.shape == (4, 5, 4)
    out, h = nn.GRU(3, 4, num_layers=3)(tinygan.zeros(7, 3))        # unbatched
    assert out.shape == (7, 4) and h.shape == (3, 4)
    h, c = nn.LSTMCell(3, 4)(tinygan.zeros(3))
    assert h.shape == (4,) and c.shape == (4,)


def test_dropout_between_layers_only_in_training():
    layer = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = tinygan.tensor(np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32))
    tinygan.manual_seed(1)
    a = layer(x)[0].numpy()
    tinygan.manual_seed(2)
    b = layer(x)[0].numpy()
    assert not np.allclose(a, b)
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0].numpy(), layer(x)[0].numpy())
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


def test_wrong_input_size_names_the_layer_and_both_shapes():
    with pytest.raises(ValueError, match=r"LSTM\(28, 64, batch_first=True\) expected input \(N, L, 28\).*"
                                         r"got \(2, 5, 20\)"):
        nn.LSTM(28, 64, batch_first=True)(tinygan.zeros(2, 5, 20))
    with pytest.raises(ValueError, match=r"GRUCell\(3, 4\) expected input \(N, 3\).*got \(2, 5\)"):
        nn.GRUCell(3, 4)(tinygan.zeros(2, 5))
    with pytest.raises(ValueError, match=r"RNN\(3, 4\) expected input .*got \(3,\)"):
        nn.RNN(3, 4)(tinygan.zeros(3))


def test_wrong_state_shape_names_the_layer_and_both_shapes():
    with pytest.raises(ValueError, match=r"LSTM\(3, 4, num_layers=2\) expected c0 of shape \(2, 5, 4\), "
                                         r"got \(1, 5, 4\)"):
        nn.LSTM(3, 4, 2)(tinygan.zeros(7, 5, 3), (tinygan.zeros(2, 5, 4), tinygan.zeros(1, 5, 4)))
    with pytest.raises(ValueError, match=r"GRU\(3, 4, bidirectional=True\) expected h0 of shape \(2, 5, 4\), "
                                         r"got \(1, 5, 4\)"):
        nn.GRU(3, 4, bidirectional=True)(tinygan.zeros(7, 5, 3), tinygan.zeros(1, 5, 4))
    with pytest.raises(TypeError, match=r"LSTM\(3, 4\) expected hx as a tuple \(h0, c0\)"):
        nn.LSTM(3, 4)(tinygan.zeros(7, 5, 3), tinygan.zeros(1, 5, 4))
    with pytest.raises(ValueError, match=r"LSTMCell\(3, 4\) expected h of shape \(2, 4\), got \(4,\)"):
        nn.LSTMCell(3, 4)(tinygan.zeros(2, 3), (tinygan.zeros(4), tinygan.zeros(2, 4)))


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(NotImplementedError, match="LSTM: proj_size is not supported"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="GRU: dropout should be a number in range"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match=r"LSTM\(3, 4\): input is float64 but weight is float32"):
        nn.LSTM(3, 4)(tinygan.tensor(np.zeros((2, 1, 3))))


# ==================================================================================================
# Against torch
# ==================================================================================================
TORCH_CASES = [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
    ("LSTM", {}), ("LSTM", {"num_layers": 2, "batch_first": True, "bidirectional": True}),
    ("LSTM", {"num_layers": 3, "bias": False}),
    ("GRU", {}), ("GRU", {"num_layers": 2, "batch_first": True, "bidirectional": True}),
    ("GRU", {"bias": False, "batch_first": True}),
]


def torch_pair(name, kwargs, dtype="double"):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(5, 6, **kwargs)
    ours = getattr(nn, name)(5, 6, **kwargs)
    getattr(theirs, dtype)(), getattr(ours, dtype)()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@needs_torch
@pytest.mark.parametrize("name,kwargs", TORCH_CASES + [("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
                                                        ("GRUCell", {"bias": False})])
def test_names_shapes_keys_and_repr_match_torch(name, kwargs):
    ours, theirs = torch_pair(name, kwargs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    bound = 1 / np.sqrt(6)
    fresh = getattr(nn, name)(5, 6, **kwargs)
    assert all(np.abs(p.numpy()).max() <= bound for p in fresh.parameters())
    assert all(np.abs(p.numpy()).max() > bound / 2 for p in fresh.parameters())


def compare_with_torch(ours, theirs, x, states, dtype=np.float64, tol=1e-10):
    xt = torch.tensor(x, requires_grad=True)
    st_t = [torch.tensor(s, requires_grad=True) for s in states]
    xo = tinygan.tensor(x, dtype=dtype, requires_grad=True)
    st_o = [tinygan.tensor(s, dtype=dtype, requires_grad=True) for s in states]
    yt = theirs(xt, hx_of(st_t)) if states else theirs(xt)
    yo = ours(xo, hx_of(st_o)) if states else ours(xo)
    ft, fo = flat(yt), flat(yo)
    assert [tuple(t.shape) for t in ft] == [t.shape for t in fo]
    for t, o in zip(ft, fo):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=tol, atol=tol)
    rng = np.random.default_rng(3)
    weights = [rng.standard_normal(t.shape) for t in ft]
    sum((t * torch.tensor(w, dtype=t.dtype)).sum() for t, w in zip(ft, weights)).backward()
    sum((o * tinygan.tensor(w, dtype=dtype)).sum() for o, w in zip(fo, weights)).backward()
    for t, o in list(zip([xt] + st_t, [xo] + st_o)):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)
    their_params = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), their_params[n].grad.numpy(), rtol=tol, atol=tol, err_msg=n)


@needs_torch
@pytest.mark.parametrize("name,kwargs", TORCH_CASES)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_h0", [True, False])
def test_layers_match_torch_outputs_states_and_every_gradient(name, kwargs, batched, with_h0, fused):
    ours, theirs = torch_pair(name, kwargs)
    rng = np.random.default_rng(1)
    shape = ((3, 4) if kwargs.get("batch_first") else (4, 3)) if batched else (4,)
    x = rng.standard_normal(shape + (5,))
    states = states_for(ours, 3, batched, rng) if with_h0 else []
    compare_with_torch(ours, theirs, x, states)


@needs_torch
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_h", [True, False])
def test_cells_match_torch_outputs_and_every_gradient(name, batched, with_h):
    ours, theirs = torch_pair(name, {})
    rng = np.random.default_rng(1)
    x = rng.standard_normal(((3,) if batched else ()) + (5,))
    compare_with_torch(ours, theirs, x, states_for(ours, 3, batched, rng) if with_h else [])


@needs_torch
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_float32_matches_torch(name, fused):
    ours, theirs = torch_pair(name, {"num_layers": 2, "bidirectional": True, "batch_first": True}, "float")
    x = np.random.default_rng(1).standard_normal((3, 28, 5)).astype(np.float32)
    compare_with_torch(ours, theirs, x, [], dtype=np.float32, tol=2e-5)
