"""tinygan.nn layers: forward against plain NumPy references, float64 gradchecks with respect to the input
AND every parameter in train and eval mode (hypothesis draws the shapes and settings), BatchNorm's running
statistics, the loss modules, and state_dict round trips through real forwards."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygan
from tinygan import nn


# ==================================================================================================
# Helpers
# ==================================================================================================
def call_with_params(layer, x, params):
    """layer(x) with the parameters' arrays swapped for ``params``' (gradcheck passes fresh tensors when it
    perturbs them, and the parameters themselves for the analytic pass)."""
    own = list(layer.parameters())
    saved = [p.array for p in own]
    for p, t in zip(own, params):
        p.array = t.array
    try:
        return layer(x)
    finally:
        for p, s in zip(own, saved):
            p.array = s


def check_layer_grads(layer, x, seed=None, modes=(True, False)):
    """gradcheck of layer(x) with respect to x and every parameter, in float64, in each training mode of
    ``modes`` (the layer is left in the last). With ``seed``, every call reseeds tinygan first, so a random
    layer (Dropout) draws the same mask each time."""
    layer.double()
    x = tinygan.tensor(x, dtype=np.float64, requires_grad=True)
    params = list(layer.parameters())

    def fn(x, *ps):
        if seed is not None:
            tinygan.manual_seed(seed)
        return call_with_params(layer, x, ps)

    for training in modes:
        layer.train(training)
        assert tinygan.gradcheck(fn, [x, *params], eps=1e-6, atol=1e-6, rtol=1e-4)


def array(*shape, low=-1.0, high=1.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def conv2d_ref(x, W, b, stride, padding):
    """Cross-correlation by explicit windows (sliding_window_view), a reference independent of im2col."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = W.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    y = np.einsum("nchwij,ocij->nohw", win, W)
    return y if b is None else y + b[None, :, None, None]


def conv_transpose2d_ref(x, W, b, stride, padding, output_padding):
    """Transposed convolution by scattering every input pixel's kernel-sized contribution, then cropping."""
    (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
    n, _, h, w = x.shape
    kh, kw = W.shape[2:]
    full = np.zeros((n, W.shape[1], (h - 1) * sh + kh + oph, (w - 1) * sw + kw + opw))
    for i in range(h):
        for j in range(w):
            full[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum("nc,coij->noij", x[:, :, i, j], W)
    oh, ow = (h - 1) * sh - 2 * ph + kh + oph, (w - 1) * sw - 2 * pw + kw + opw
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    return y if b is None else y + b[None, :, None, None]


def forward_f64(layer, x):
    layer.double()
    with tinygan.no_grad():
        return layer(tinygan.tensor(x, dtype=np.float64)).numpy()


# ==================================================================================================
# Linear
# ==================================================================================================
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 5), st.integers(1, 5), st.booleans())
def test_linear(batch, fan_in, fan_out, bias):
    layer = nn.Linear(fan_in, fan_out, bias=bias)
    x = array(*batch, fan_in)
    W = layer.weight.array.astype(np.float64)
    expected = x @ W.T + (layer.bias.array.astype(np.float64) if bias else 0)
    np.testing.assert_allclose(forward_f64(layer, x), expected, rtol=1e-12, atol=1e-12)
    check_layer_grads(layer, x)


def test_linear_float32_stays_float32():
    y = nn.Linear(3, 2)(tinygan.randn(4, 3))
    assert y.dtype == np.float32 and tuple(y.shape) == (4, 2)


# ==================================================================================================
# Convolutions
# ==================================================================================================
conv_settings = st.fixed_dictionaries({
    "n": st.integers(1, 2), "cin": st.integers(1, 3), "cout": st.integers(1, 3),
    "k": st.tuples(st.integers(1, 3), st.integers(1, 3)), "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "padding": st.tuples(st.integers(0, 2), st.integers(0, 2)), "size": st.tuples(st.integers(1, 6), st.integers(1, 6)),
    "bias": st.booleans()})


@given(conv_settings)
def test_conv2d(s):
    h, w = (max(n, k - 2 * p) for n, k, p in zip(s["size"], s["k"], s["padding"]))   # window fits
    layer = nn.Conv2d(s["cin"], s["cout"], s["k"], s["stride"], s["padding"], bias=s["bias"])
    x = array(s["n"], s["cin"], h, w)
    b = layer.bias.array.astype(np.float64) if s["bias"] else None
    expected = conv2d_ref(x, layer.weight.array.astype(np.float64), b, s["stride"], s["padding"])
    np.testing.assert_allclose(forward_f64(layer, x), expected, rtol=1e-10, atol=1e-12)
    check_layer_grads(layer, x)


@given(conv_settings, st.data())
def test_conv_transpose2d(s, data):
    output_padding = tuple(data.draw(st.integers(0, st_ - 1)) for st_ in s["stride"])
    # the output must not be empty: (H - 1) * stride - 2 * padding + k + output_padding >= 1
    padding = tuple(min(p, ((n - 1) * st_ + k + op - 1) // 2)
                    for p, n, st_, k, op in zip(s["padding"], s["size"], s["stride"], s["k"], output_padding))
    layer = nn.ConvTranspose2d(s["cin"], s["cout"], s["k"], s["stride"], padding, output_padding, bias=s["bias"])
    x = array(s["n"], s["cin"], *s["size"])
    b = layer.bias.array.astype(np.float64) if s["bias"] else None
    expected = conv_transpose2d_ref(x, layer.weight.array.astype(np.float64), b, s["stride"], padding,
                                    output_padding)
    np.testing.assert_allclose(forward_f64(layer, x), expected, rtol=1e-10, atol=1e-12)
    check_layer_grads(layer, x)


def test_dcgan_shapes():
    g = nn.Sequential(nn.ConvTranspose2d(16, 8, 7, 1, 0), nn.ConvTranspose2d(8, 4, 4, 2, 1),
                      nn.ConvTranspose2d(4, 1, 4, 2, 1))
    assert tuple(g(tinygan.randn(2, 16, 1, 1)).shape) == (2, 1, 28, 28)
    d = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.Conv2d(4, 8, 4, 2, 1), nn.Conv2d(8, 1, 7))
    assert tuple(d(tinygan.randn(2, 1, 28, 28)).shape) == (2, 1, 1, 1)


# ==================================================================================================
# BatchNorm
# ==================================================================================================
def bn_shape(draw_2d, n, c, extra):
    return (n, c) + ((extra, extra) if draw_2d else ((extra,) if extra > 1 else ()))


@given(st.booleans(), st.integers(2, 4), st.integers(1, 3), st.integers(1, 3), st.booleans(), st.booleans(),
       st.booleans(), st.booleans())
def test_batch_norm_gradcheck_train_and_eval(two_d, n, c, extra, affine, bias, track, training):
    shape = bn_shape(two_d, n, c, extra)
    layer = (nn.BatchNorm2d if two_d else nn.BatchNorm1d)(c, affine=affine, track_running_stats=track, bias=bias)
    if affine:
        layer.weight.array[...] = array(c, low=0.5, high=2.0, seed=1)
        if bias:
            layer.bias.array[...] = array(c, seed=2)
    layer.double()
    for seed in range(3):                                   # non-trivial running statistics for eval
        with tinygan.no_grad():
            layer(tinygan.tensor(array(*shape, high=3.0, seed=10 + seed), dtype=np.float64))
    x = array(*shape, seed=3)
    check_layer_grads(layer, x, modes=(training,))
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, c) + (1,) * (len(shape) - 2)
    if training or not track:
        mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    else:
        mean, var = layer.running_mean.array.reshape(bshape), layer.running_var.array.reshape(bshape)
    expected = (x - mean) / np.sqrt(var + layer.eps)
    if affine:
        expected = expected * layer.weight.array.reshape(bshape)
        if bias:
            expected = expected + layer.bias.array.reshape(bshape)
    layer.train(training)
    np.testing.assert_allclose(forward_f64(layer, x), expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("two_d", [False, True])
def test_batch_norm_running_statistics_match_numpy(two_d):
    c, momentum = 3, 0.3
    layer = nn.BatchNorm2d(c, momentum=momentum) if two_d else nn.BatchNorm1d(c, momentum=momentum)
    mean_ref, var_ref = np.zeros(c), np.ones(c)
    shape = (4, c, 2, 3) if two_d else (5, c)
    axes = (0, 2, 3) if two_d else (0,)
    for step in range(4):
        x = np.random.default_rng(step).normal(step, 1 + step, shape).astype(np.float32)
        layer(tinygan.tensor(x))
        mean_ref = (1 - momentum) * mean_ref + momentum * x.mean(axes)
        var_ref = (1 - momentum) * var_ref + momentum * x.var(axes, ddof=1)       # unbiased
    np.testing.assert_allclose(layer.running_mean.array, mean_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.running_var.array, var_ref, rtol=1e-5, atol=1e-6)
    assert int(layer.num_batches_tracked.array) == 4
    assert layer.running_mean.dtype == np.float32 and layer.running_var.dtype == np.float32

    layer.eval()                                            # eval: running statistics, nothing updated
    x = np.random.default_rng(9).normal(0, 1, shape).astype(np.float32)
    y = layer(tinygan.tensor(x)).numpy()
    b = (1, c, 1, 1) if two_d else (1, c)
    np.testing.assert_allclose(y, (x - mean_ref.reshape(b)) / np.sqrt(var_ref.reshape(b) + 1e-5), rtol=1e-4,
                               atol=1e-5)
    assert int(layer.num_batches_tracked.array) == 4
    np.testing.assert_allclose(layer.running_mean.array, mean_ref, rtol=1e-5, atol=1e-6)


def test_batch_norm_cumulative_average_and_untracked():
    layer = nn.BatchNorm1d(2, momentum=None)
    xs = [np.random.default_rng(i).normal(i, 1, (6, 2)).astype(np.float32) for i in range(3)]
    for x in xs:
        layer(tinygan.tensor(x))
    np.testing.assert_allclose(layer.running_mean.array, np.mean([x.mean(0) for x in xs], axis=0), rtol=1e-5)
    untracked = nn.BatchNorm1d(2, track_running_stats=False).eval()
    assert list(untracked.state_dict()) == ["weight", "bias"]
    x = xs[2]
    np.testing.assert_allclose(untracked(tinygan.tensor(x)).numpy(), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5),
                               rtol=1e-4, atol=1e-5)                          # batch statistics even in eval


# ==================================================================================================
# Activations, dropout, shapes, embedding
# ==================================================================================================
@pytest.mark.parametrize("layer, ref", [
    (nn.ReLU(), lambda x: np.maximum(x, 0)), (nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.LeakyReLU(0.2, inplace=True), lambda x: np.where(x > 0, x, 0.2 * x)), (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))), (nn.Identity(), lambda x: x),
])
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_activations(layer, ref, shape):
    x = array(*shape)
    x = np.where(np.abs(x) < 1e-3, 0.5, x)                 # away from the kink at 0
    np.testing.assert_allclose(forward_f64(layer, x), ref(x), rtol=1e-12)
    check_layer_grads(layer, x)


@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.sampled_from([0.0, 0.2, 0.5, 0.9]))
def test_dropout_train_and_eval(shape, p):
    layer = nn.Dropout(p)
    x = array(*shape, low=0.5, high=1.5)
    tinygan.manual_seed(5)
    y = forward_f64(layer, x)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-12)      # survivors scaled by 1/(1-p)
    if p == 0:
        assert kept.all()
    check_layer_grads(layer, x, seed=5, modes=(True,))
    check_layer_grads(layer, x, modes=(False,))
    np.testing.assert_array_equal(forward_f64(layer, x), x)


def test_dropout_drops_about_p_and_follows_the_seed():
    x = tinygan.ones(100, 100)
    tinygan.manual_seed(1)
    a = nn.Dropout(0.3)(x).numpy()
    tinygan.manual_seed(1)
    b = nn.Dropout(0.3)(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert abs((a == 0).mean() - 0.3) < 0.03


@given(st.lists(st.integers(1, 3), min_size=2, max_size=4), st.data())
def test_flatten_and_unflatten(shape, data):
    start = data.draw(st.integers(0, len(shape) - 1))
    end = data.draw(st.integers(start, len(shape) - 1))
    x = array(*shape)
    flat = nn.Flatten(start, end)
    expected = x.reshape(shape[:start] + [-1] + shape[end + 1:])
    np.testing.assert_array_equal(forward_f64(flat, x), expected)
    check_layer_grads(flat, x)
    unflat = nn.Unflatten(start, tuple(shape[start:end + 1]))
    np.testing.assert_array_equal(forward_f64(unflat, expected), x)
    np.testing.assert_array_equal(forward_f64(nn.Unflatten(start, (-1,) + tuple(shape[start + 1:end + 1])),
                                              expected), x)
    check_layer_grads(unflat, expected)


@given(st.integers(1, 6), st.integers(1, 4), st.lists(st.integers(1, 4), min_size=1, max_size=2), st.data())
def test_embedding(num, dim, shape, data):
    layer = nn.Embedding(num, dim)
    ids = np.asarray(data.draw(st.lists(st.integers(0, num - 1), min_size=int(np.prod(shape)),
                                        max_size=int(np.prod(shape))))).reshape(shape)
    layer.double()
    y = layer(tinygan.tensor(ids)).numpy()
    np.testing.assert_array_equal(y, layer.weight.array[ids])
    weight = layer.weight
    assert tinygan.gradcheck(lambda w: call_with_params(layer, tinygan.tensor(ids), [w]), [weight])
    gy = np.random.default_rng(0).normal(size=y.shape)
    weight.grad = None
    layer(tinygan.tensor(ids)).backward(gy)
    expected = np.zeros_like(weight.array)
    np.add.at(expected, ids, gy)                          # repeated ids accumulate
    np.testing.assert_allclose(weight.grad.array, expected, rtol=1e-12)


def test_embedding_padding_idx_starts_at_zero_and_gets_no_grad():
    layer = nn.Embedding(4, 3, padding_idx=1)
    assert not layer.weight.array[1].any() and layer.weight.array[0].any()
    np.testing.assert_array_equal(layer([[0, 1]]).numpy(), layer.weight.array[[[0, 1]]])   # lists of ids work
    layer(tinygan.tensor([1, 2, 1])).sum().backward()
    assert not layer.weight.grad.array[1].any() and layer.weight.grad.array[2].all()


# ==================================================================================================
# Losses
# ==================================================================================================
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@given(st.lists(st.integers(1, 4), min_size=1, max_size=2), st.sampled_from(["mean", "sum", "none"]),
       st.booleans())
def test_loss_modules_match_numpy_and_gradcheck(shape, reduction, weighted):
    x = array(*shape, low=-3, high=3)
    t = (array(*shape, seed=1) > 0).astype(np.float64)
    w = array(*shape, low=0.5, high=2, seed=2) if weighted else None
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    weight = 1 if w is None else w
    p = _sigmoid(x)
    cases = [
        (nn.BCEWithLogitsLoss(weight=w, reduction=reduction), x,
         -weight * (t * np.log(p) + (1 - t) * np.log(1 - p))),
        (nn.BCELoss(weight=w, reduction=reduction), p, -weight * (t * np.log(p) + (1 - t) * np.log(1 - p))),
        (nn.MSELoss(reduction=reduction), x, (x - t) ** 2),
    ]
    for loss, inp, expected in cases:
        loss.double()
        target = tinygan.tensor(t, dtype=np.float64)
        got = loss(tinygan.tensor(inp, dtype=np.float64), target).numpy()
        np.testing.assert_allclose(got, reduce(expected), rtol=1e-10, atol=1e-12)
        inp_t = tinygan.tensor(inp, dtype=np.float64, requires_grad=True)
        assert tinygan.gradcheck(lambda a: loss(a, target), [inp_t], atol=1e-6, rtol=1e-4)


def test_cross_entropy_loss_and_weight_buffer():
    x = array(5, 4)
    t = np.array([0, 3, 1, 1, 2])
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    loss = nn.CrossEntropyLoss().double()
    np.testing.assert_allclose(loss(tinygan.tensor(x, dtype=np.float64), tinygan.tensor(t)).numpy(),
                               -logp[np.arange(5), t].mean(), rtol=1e-12)
    w = np.array([1.0, 2.0, 0.5, 1.0])
    weighted = nn.CrossEntropyLoss(weight=w).double()
    assert list(weighted.state_dict()) == ["weight"]
    got = weighted(tinygan.tensor(x, dtype=np.float64), tinygan.tensor(t)).numpy()
    np.testing.assert_allclose(got, -(w[t] * logp[np.arange(5), t]).sum() / w[t].sum(), rtol=1e-12)
    xt = tinygan.tensor(x, dtype=np.float64, requires_grad=True)
    assert tinygan.gradcheck(lambda a: weighted(a, tinygan.tensor(t)), [xt])


def test_bce_with_logits_pos_weight_and_stability():
    loss = nn.BCEWithLogitsLoss(pos_weight=np.array([3.0], dtype=np.float32))
    assert list(loss.state_dict()) == ["pos_weight"]
    x, t = np.array([[2.0], [-1.0]], dtype=np.float32), np.array([[1.0], [0.0]], dtype=np.float32)
    expected = -(3 * t * np.log(_sigmoid(x)) + (1 - t) * np.log(1 - _sigmoid(x))).mean()
    np.testing.assert_allclose(loss(tinygan.tensor(x), tinygan.tensor(t)).item(), expected, rtol=1e-5)
    big = nn.BCEWithLogitsLoss()(tinygan.tensor([[200.0]]), tinygan.tensor([[0.0]]))
    assert np.isfinite(big.item()) and abs(big.item() - 200) < 1e-3


# ==================================================================================================
# Whole models: state_dict round trip through real forwards, train/eval behaviour
# ==================================================================================================
def small_dcgan():
    return nn.Sequential(nn.Unflatten(1, (8, 1, 1)), nn.ConvTranspose2d(8, 4, 4, 1, 0, bias=False),
                         nn.BatchNorm2d(4), nn.ReLU(True), nn.ConvTranspose2d(4, 1, 4, 2, 1), nn.Tanh(),
                         nn.Conv2d(1, 3, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Flatten(),
                         nn.Linear(48, 1))


def test_state_dict_round_trip_gives_equal_outputs():
    tinygan.manual_seed(0)
    a = small_dcgan()
    for _ in range(3):
        a(tinygan.randn(4, 8))                              # move the BatchNorm statistics off their init
    tinygan.manual_seed(1)
    b = small_dcgan()
    z = tinygan.randn(5, 8)
    a.eval(), b.eval()
    assert not np.allclose(a(z).numpy(), b(z).numpy())
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(z).numpy(), b(z).numpy())   # exact: same weights, input and code path
    a.train(), b.train()
    tinygan.manual_seed(2)
    ya = a(z)
    tinygan.manual_seed(2)
    yb = b(z)
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())   # same dropout mask, same batch statistics
    ya.sum().backward()
    yb.sum().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.grad.array, pb.grad.array)


def test_whole_model_gradcheck_in_train_and_eval():
    tinygan.manual_seed(0)
    check_layer_grads(small_dcgan(), array(3, 8), seed=4)


def test_eval_makes_the_output_deterministic_and_batch_independent():
    tinygan.manual_seed(0)
    model = small_dcgan()
    model(tinygan.randn(6, 8))
    model.eval()
    z = tinygan.randn(4, 8)
    full = model(z).numpy()
    np.testing.assert_array_equal(model(z).numpy(), full)       # exact: the same call again
    np.testing.assert_allclose(model(z[:2]).numpy(), full[:2], rtol=1e-5, atol=1e-6)
