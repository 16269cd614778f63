"""Second (and third) derivatives: every op's ``backward_graph`` checked by gradgradcheck, and autograd.grad.

gradgradcheck(fn, xs) checks that the first derivative recorded with create_graph=True has the plain backward's
values and that its own derivative, in x and in the upstream gradient v, matches finite differences. Each op is
followed by y * y (or used inside a nonlinear function), so the upstream gradient depends on x and the op's
recorded backward is differentiated, not only evaluated. Float64 throughout; inputs stay away from kinks
(|x| > 0.1 for relu/abs/leaky_relu, distinct values for max/min and max pooling), as MyGrad's suite does.
"""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygan
from tinygan import GradcheckError, autograd, gradgradcheck, nn
from tinygan import functional as F
from tinygan.ops import elementwise as elem
from tinygan.ops.conv import Conv2dGradWeight, conv_output_size
from tinygan.ops.pool import AvgPool2dBackward, MaxPool2d, MaxPool2dBackward, MaxPool2dGather
from tinygan.tensor import NoSecondDerivativeError, constant

# a quarter of the profile's examples (ci: 12 per test; HYPOTHESIS_PROFILE=thorough: 125): ~90 tests stay fast
EXAMPLES = settings(max_examples=max(settings().max_examples // 4, 8), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(EXAMPLES, max_examples=max(settings().max_examples // 8, 4))
seeds = st.integers(0, 2 ** 16)


def values_of(out):
    """A reduction's result tensor: max/min over one dim give PyTorch's (values, indices)."""
    return out.values if isinstance(out, tuple) else out


def leaf(array):
    return tinygan.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def normal(rng, *shape):
    return leaf(rng.standard_normal(shape))


def spaced(rng, *shape):
    """Distinct values at least 0.25 apart, none within 0.05 of 0 or of +-0.5: no ties, no kinks."""
    n = int(np.prod(shape))
    return leaf(((rng.permutation(n) - (n - 1) / 2) * 0.25 + 0.07).reshape(shape))


def square(y):
    return y * y


@st.composite
def nonzero_arrays(draw, shapes):
    """Hypothesis arrays with |x| in [0.1, 2]: either sign, never near relu's or abs's kink."""
    shape = draw(shapes)
    magnitude = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.1, 2)))
    return magnitude * draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))


# ==================================================================================================
# Arithmetic: tensor (op) tensor with broadcasting, tensor (op) number, matmul
# ==================================================================================================
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a.abs() ** b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@EXAMPLES
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=seeds)
def test_binary_ops_with_broadcasting(name, shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a = leaf(rng.uniform(0.5, 1.5, a_shape) * rng.choice([-1, 1], a_shape))
    b = leaf(rng.uniform(0.5, 1.5, b_shape) * rng.choice([-1, 1], b_shape))
    op = BINARY[name]
    assert gradgradcheck(lambda a, b: square(op(a, b)), [a, b], seed=seed)


SCALAR = {
    "x + c": lambda x: x + 1.5, "c + x": lambda x: 1.5 + x, "x - c": lambda x: x - 0.5,
    "c - x": lambda x: 0.5 - x, "x * c": lambda x: x * -1.5, "c * x": lambda x: 2.5 * x,
    "x / c": lambda x: x / 3.0, "c / x": lambda x: 2.0 / x, "-x": lambda x: -x,
    "x ** 2": lambda x: x ** 2, "x ** 3": lambda x: x ** 3, "x ** -1": lambda x: x ** -1,
    "|x| ** 0.5": lambda x: x.abs() ** 0.5, "c ** x": lambda x: 1.7 ** x,
}


@pytest.mark.parametrize("name", sorted(SCALAR))
@FEW
@given(x=nonzero_arrays(hnp.array_shapes(max_dims=2, max_side=3)))
def test_scalar_ops(name, x):
    op = SCALAR[name]
    assert gradgradcheck(lambda x: op(x) * x, [leaf(x)])


@EXAMPLES
@given(n=st.integers(1, 3), k=st.integers(1, 3), m=st.integers(1, 3), seed=seeds,
       kind=st.sampled_from(["1d@1d", "1d@2d", "2d@1d", "2d@2d", "batched", "batched@1d", "1d@batched"]),
       batch=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=2))
def test_matmul(n, k, m, seed, kind, batch):
    rng = np.random.default_rng(seed)
    a_batch, b_batch = batch.input_shapes
    a_shape = {"1d": (k,), "2d": (n, k), "batched": a_batch + (n, k)}[kind.split("@")[0]]
    b_shape = {"1d": (k,), "2d": (k, m), "batched": b_batch + (k, m)}[kind.split("@")[-1]]
    a, b = normal(rng, *a_shape), normal(rng, *b_shape)
    assert gradgradcheck(lambda a, b: square(a @ b), [a, b], seed=seed)


# ==================================================================================================
# Elementwise
# ==================================================================================================
UNARY = {
    "exp": lambda x: x.exp(),
    "log": lambda x: x.abs().log(),
    "sqrt": lambda x: x.abs().sqrt(),
    "abs": lambda x: x.abs() * x,
    "clamp": lambda x: F.clamp(x, -0.5, 0.5) * x,
    "clamp_min": lambda x: F.clamp(x, min=-0.5) * x,
    "clamp_max": lambda x: F.clamp(x, max=0.5) * x,
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: F.relu(x) * x,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2) * x,
    "softplus": lambda x: F.softplus(x),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@EXAMPLES
@given(x=nonzero_arrays(hnp.array_shapes(max_dims=3, max_side=3)))
def test_elementwise(name, x):
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x * 1.2, x)      # clamp's kinks at +-0.5
    op = UNARY[name]
    assert gradgradcheck(lambda x: square(op(x)), [leaf(x)])


def test_cast_round_trip():
    """float64 -> float32 -> float64: rounded to float32 on the way, so a coarser eps (the map is quadratic)."""
    x = leaf(np.random.default_rng(0).uniform(0.5, 2, (3, 4)))
    assert gradgradcheck(lambda x: square(x.float()).double() * x, [x], eps=1e-2, atol=1e-4, rtol=1e-3)
    assert gradgradcheck(lambda x: square(x.to(dtype=tinygan.float64)), [x])


# ==================================================================================================
# Reductions
# ==================================================================================================
@st.composite
def shape_and_dim(draw, max_dims=3):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, max_side=3))
    axes = st.integers(-len(shape), len(shape) - 1)
    several = st.lists(axes, min_size=1, max_size=len(shape), unique_by=lambda a: a % len(shape)).map(tuple)
    dim = draw(st.one_of(st.none(), axes, several))
    return shape, dim


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "var_biased"])
@EXAMPLES
@given(case=shape_and_dim(), keepdim=st.booleans(), seed=seeds)
def test_reductions(name, case, keepdim, seed):
    shape, dim = case
    x = spaced(np.random.default_rng(seed), *shape)
    if name.startswith("var"):
        count = np.prod([shape[d] for d in ((dim,) if isinstance(dim, int) else dim or range(len(shape)))])
        if count < 2:
            return                                                 # var of one value divides by 0: NaN
        op = lambda x: x.var(dim=dim, keepdim=keepdim, unbiased=name == "var")    # noqa: E731
    else:
        op = lambda x: values_of(getattr(x, name)(dim=dim, keepdim=keepdim))      # noqa: E731
    assert gradgradcheck(lambda x: square(op(x)), [x], seed=seed)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@EXAMPLES
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds, data=st.data())
def test_softmax(name, shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = normal(np.random.default_rng(seed), *shape)
    assert gradgradcheck(lambda x: square(getattr(x, name)(dim=dim)), [x], seed=seed)


# ==================================================================================================
# Shapes and indexing
# ==================================================================================================
@EXAMPLES
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), seed=seeds, data=st.data())
def test_reshape_permute_transpose(shape, seed, data):
    x = normal(np.random.default_rng(seed), *shape)
    order = data.draw(st.permutations(range(len(shape))))
    d0, d1 = data.draw(st.tuples(*[st.integers(-len(shape), len(shape) - 1)] * 2))
    assert gradgradcheck(lambda x: square(x.reshape(-1)) * x.reshape(-1), [x])
    assert gradgradcheck(lambda x: square(x.permute(*order)), [x])
    assert gradgradcheck(lambda x: square(x.transpose(d0, d1)), [x])


@EXAMPLES
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=3, max_side=3), seed=seeds)
def test_expand(shapes, seed):
    x = normal(np.random.default_rng(seed), *shapes.input_shapes[0])
    assert gradgradcheck(lambda x: square(x.expand(*shapes.result_shape)), [x])


@EXAMPLES
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), n=st.integers(1, 3), seed=seeds,
       data=st.data())
def test_cat_and_stack(shape, n, seed, data):
    rng = np.random.default_rng(seed)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    parts = [normal(rng, *(shape[:dim % len(shape)] + (s,) + shape[dim % len(shape) + 1:])) for s in sizes]
    assert gradgradcheck(lambda *xs: square(F.cat(xs, dim=dim)), parts)
    same = [normal(rng, *shape) for _ in range(n)]
    stack_dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert gradgradcheck(lambda *xs: square(F.stack(xs, dim=stack_dim)), same)


INDICES = [
    (slice(None),), (1,), (-1, slice(None, None, -1)), (slice(0, 3, 2), None, 1), (Ellipsis, 0),
    (np.array([0, 2, 0, 0]),), (np.array([[1, 1], [0, 2]]), slice(1, None)),
    (np.array([2, 2, 1]), np.array([0, 0, 3])), (slice(None), np.array([3, 3, 0])),
]


@pytest.mark.parametrize("index", INDICES, ids=[f"index{i}" for i in range(len(INDICES))])
def test_getitem_basic_and_advanced_with_repeats(index):
    x = normal(np.random.default_rng(3), 3, 4)
    assert gradgradcheck(lambda x: square(x[index]) * x[index], [x])
    mask = np.random.default_rng(4).random((3, 4)) > 0.4
    assert gradgradcheck(lambda x: square(x[mask]), [x])


def test_where_clone_flip_repeat():
    rng = np.random.default_rng(5)
    x, y = normal(rng, 3, 4), normal(rng, 1, 4)
    condition = tinygan.tensor(rng.random((3, 4)) > 0.5)
    assert gradgradcheck(lambda x, y: square(tinygan.where(condition, x, y)) * x, [x, y])
    assert gradgradcheck(lambda x: square(x.clone()).flip(0).repeat(2, 1), [x])


# ==================================================================================================
# Layers
# ==================================================================================================
@EXAMPLES
@given(lead=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), n_in=st.integers(1, 4),
       n_out=st.integers(1, 3), bias=st.booleans(), seed=seeds)
def test_linear(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    x, W, b = normal(rng, *lead, n_in), normal(rng, n_out, n_in), normal(rng, n_out)
    inputs = [x, W, b] if bias else [x, W]
    assert gradgradcheck(lambda *a: F.linear(*a).tanh(), inputs, seed=seed)


conv_settings = st.fixed_dictionaries({
    "size": st.tuples(st.integers(3, 6), st.integers(3, 6)),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.tuples(st.integers(1, 3), st.integers(1, 2)),
    "padding": st.tuples(st.integers(0, 1), st.integers(0, 1)),
    "channels": st.tuples(st.integers(1, 2), st.integers(1, 3)), "bias": st.booleans(), "seed": seeds})


@EXAMPLES
@given(s=conv_settings)
def test_conv2d(s):
    rng = np.random.default_rng(s["seed"])
    (c_in, c_out), (kh, kw) = s["channels"], s["kernel"]
    x, W, b = normal(rng, 2, c_in, *s["size"]), normal(rng, c_out, c_in, kh, kw), normal(rng, c_out)
    inputs = [x, W, b] if s["bias"] else [x, W]
    conv = lambda *a: F.conv2d(*a, stride=s["stride"], padding=s["padding"])     # noqa: E731
    assert gradgradcheck(lambda *a: square(conv(*a)), inputs, seed=s["seed"])


@EXAMPLES
@given(s=conv_settings, data=st.data())
def test_conv_transpose2d(s, data):
    rng = np.random.default_rng(s["seed"])
    (c_in, c_out), (kh, kw), stride = s["channels"], s["kernel"], s["stride"]
    size = tuple(max(1, n - 2) for n in s["size"])
    output_padding = tuple(data.draw(st.integers(0, step - 1)) for step in stride)
    x, W, b = normal(rng, 2, c_in, *size), normal(rng, c_in, c_out, kh, kw), normal(rng, c_out)
    inputs = [x, W, b] if s["bias"] else [x, W]
    if min(((n - 1) * step - 2 * p + k + op) for n, step, p, k, op in
           zip(size, stride, s["padding"], (kh, kw), output_padding)) <= 0:
        return                                                      # no output: nothing to check
    deconv = lambda *a: F.conv_transpose2d(*a, stride=stride, padding=s["padding"],      # noqa: E731
                                           output_padding=output_padding)
    assert gradgradcheck(lambda *a: square(deconv(*a)), inputs, seed=s["seed"])


@EXAMPLES
@given(s=conv_settings)
def test_conv2d_weight_gradient_op(s):
    """Conv2dGradWeight (the op conv's recorded backward uses) differentiated twice more: third order of conv."""
    rng = np.random.default_rng(s["seed"])
    (c_in, c_out), kernel, stride, padding = s["channels"], s["kernel"], s["stride"], s["padding"]
    out = tuple(conv_output_size(n, k, step, p) for n, k, step, p in zip(s["size"], kernel, stride, padding))
    x, gy = normal(rng, 2, c_in, *s["size"]), normal(rng, 2, c_out, *out)
    op = lambda x, gy: Conv2dGradWeight.apply(x, gy, kernel=kernel, stride=stride, padding=padding)  # noqa: E731
    assert tinygan.gradcheck(op, [x, gy], seed=s["seed"])
    assert gradgradcheck(lambda x, gy: square(op(x, gy)), [x, gy], seed=s["seed"])


pool_settings = st.fixed_dictionaries({
    "size": st.tuples(st.integers(2, 6), st.integers(2, 6)), "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 2))),
    "pad": st.tuples(st.booleans(), st.booleans()), "seed": seeds})


def _pool_args(s):
    kernel = s["kernel"]
    padding = tuple(k // 2 if p else 0 for k, p in zip(kernel, s["pad"]))
    size = tuple(max(n, k) for n, k in zip(s["size"], kernel))
    return size, kernel, s["stride"], padding


@EXAMPLES
@given(s=pool_settings)
def test_max_pool2d(s):
    size, kernel, stride, padding = _pool_args(s)
    x = spaced(np.random.default_rng(s["seed"]), 2, 2, *size)
    assert gradgradcheck(lambda x: square(F.max_pool2d(x, kernel, stride, padding)), [x], seed=s["seed"])


@EXAMPLES
@given(s=pool_settings, count_include_pad=st.booleans())
def test_avg_pool2d(s, count_include_pad):
    size, kernel, stride, padding = _pool_args(s)
    x = normal(np.random.default_rng(s["seed"]), 2, 2, *size)
    pool = lambda x: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)  # noqa: E731
    assert gradgradcheck(lambda x: square(pool(x)), [x], seed=s["seed"])


@FEW
@given(s=pool_settings, count_include_pad=st.booleans())
def test_pool_backward_ops(s, count_include_pad):
    """The pools' backwards as ops (linear, each the next one's adjoint), checked on their own to third order."""
    size, kernel, stride, padding = _pool_args(s)
    stride = stride or kernel
    rng = np.random.default_rng(s["seed"])
    x = spaced(rng, 2, 2, *size)
    pool = MaxPool2d(kernel, stride, padding)
    out_shape = pool.forward(x.array).shape
    routing = dict(argmax=pool.argmax, x_shape=x.shape, kernel=kernel, stride=stride, padding=padding)
    gy = normal(rng, *out_shape)
    route = lambda g: MaxPool2dBackward.apply(g, **routing)                  # noqa: E731
    gather = lambda g: MaxPool2dGather.apply(g, **routing)                   # noqa: E731
    divisor = F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad).grad_fn.divisor
    spread = lambda g: AvgPool2dBackward.apply(                              # noqa: E731
        g, divisor=divisor, x_shape=x.shape, kernel=kernel, stride=stride, padding=padding,
        count_include_pad=count_include_pad)
    for op, arg in ((route, gy), (gather, x), (spread, gy)):
        assert tinygan.gradcheck(op, [arg])
        assert gradgradcheck(lambda g: square(op(g)), [arg])


@EXAMPLES
@given(num=st.integers(1, 5), dim=st.integers(1, 3), ids_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
       padding=st.booleans(), seed=seeds)
def test_embedding(num, dim, ids_shape, padding, seed):
    rng = np.random.default_rng(seed)
    ids = tinygan.tensor(rng.integers(0, num, ids_shape))               # repeats are likely: they accumulate
    W = normal(rng, num, dim)
    padding_idx = int(ids.array.reshape(-1)[0]) if padding else None
    assert gradgradcheck(lambda W: square(F.embedding(ids, W, padding_idx=padding_idx)) * 2, [W], seed=seed)


@EXAMPLES
@given(lead=hnp.array_shapes(min_dims=1, max_dims=2, max_side=3),
       normalized=hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=3),
       affine=st.sampled_from(["both", "weight", "bias", "none"]), seed=seeds)
def test_layer_norm(lead, normalized, affine, seed):
    rng = np.random.default_rng(seed)
    x = normal(rng, *lead, *normalized)
    weight = normal(rng, *normalized) if affine in ("both", "weight") else None
    bias = normal(rng, *normalized) if affine in ("both", "bias") else None
    params = [p for p in (weight, bias) if p is not None]

    def fn(x, *params):
        it = iter(params)
        w = next(it) if weight is not None else None
        b = next(it) if bias is not None else None
        return F.layer_norm(x, normalized, w, b, eps=1e-3).tanh()

    assert gradgradcheck(fn, [x, *params], seed=seed)


# ==================================================================================================
# Losses
# ==================================================================================================
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@pytest.mark.parametrize("name", ["bce_with_logits", "bce", "mse"])
@EXAMPLES
@given(shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=3), reduction=REDUCTIONS,
       weighted=st.booleans(), target_grad=st.booleans(), seed=seeds)
def test_pointwise_losses(name, shape, reduction, weighted, target_grad, seed):
    """The loss's own second derivative, in the input and (when it requires grad) the target and the weight."""
    rng = np.random.default_rng(seed)
    x = leaf(rng.uniform(0.1, 0.9, shape)) if name == "bce" else normal(rng, *shape)
    t = tinygan.tensor(rng.uniform(0.1, 0.9, shape), requires_grad=target_grad)
    if name == "mse":
        assert gradgradcheck(lambda x, t: F.mse_loss(x, t, reduction=reduction), [x, t], seed=seed)
        return
    loss = {"bce_with_logits": F.binary_cross_entropy_with_logits, "bce": F.binary_cross_entropy}[name]
    if weighted:
        w = leaf(rng.uniform(0.5, 2, shape[-1:]))                    # broadcast over the leading axes
        assert gradgradcheck(lambda x, t, w: loss(x, t, weight=w, reduction=reduction), [x, t, w], seed=seed)
    else:
        assert gradgradcheck(lambda x, t: loss(x, t, reduction=reduction), [x, t], seed=seed)


@pytest.mark.parametrize("name", ["nll", "cross_entropy"])
@EXAMPLES
@given(n=st.integers(1, 4), c=st.integers(2, 4), reduction=REDUCTIONS, weighted=st.booleans(),
       ignore=st.booleans(), seed=seeds)
def test_class_losses(name, n, c, reduction, weighted, ignore, seed):
    rng = np.random.default_rng(seed)
    x = normal(rng, n, c)
    target = rng.integers(0, c, n)
    if ignore and n > 1:
        target[0] = -100                                            # ignore_index's default
    weight = tinygan.tensor(rng.uniform(0.5, 2, c)) if weighted else None
    if name == "nll":
        fn = lambda x: F.nll_loss(x.log_softmax(dim=1), target, weight=weight, reduction=reduction)  # noqa: E731
    else:
        fn = lambda x: F.cross_entropy(x, target, weight=weight, reduction=reduction)              # noqa: E731
    assert gradgradcheck(lambda x: square(fn(x)), [x], seed=seed)


# ==================================================================================================
# Resizing, padding, dropout (their backward_graph lives in ops/resize.py, pad.py, dropout.py)
# ==================================================================================================
@pytest.mark.parametrize("kwargs", [
    dict(scale_factor=2, mode="nearest"), dict(size=(5, 3), mode="nearest"), dict(size=(5, 7), mode="nearest-exact"),
    dict(scale_factor=2, mode="bilinear", align_corners=False), dict(size=(4, 5), mode="bilinear", align_corners=True),
], ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_interpolate(kwargs):
    x = normal(np.random.default_rng(6), 2, 2, 3, 4)
    assert gradgradcheck(lambda x: square(F.interpolate(x, **kwargs)), [x])


@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=3), seed=seeds, data=st.data())
def test_pad(shape, seed, data):
    pad = data.draw(st.lists(st.integers(-1, 2), min_size=2, max_size=2 * len(shape)).filter(lambda p: len(p) % 2 == 0))
    value = data.draw(st.sampled_from([0.0, 1.5]))
    x = normal(np.random.default_rng(seed), *shape)
    assert gradgradcheck(lambda x: square(F.pad(x, tuple(pad), value=value)), [x])


@pytest.mark.parametrize("channels", [False, True])
def test_dropout(channels):
    x = normal(np.random.default_rng(7), 2, 3, 2, 2)

    def fn(x):
        tinygan.manual_seed(0)                                      # the same mask every call
        return square(F.dropout2d(x, 0.4) if channels else F.dropout(x, 0.4))

    assert gradgradcheck(fn, [x])


# ==================================================================================================
# Higher orders, errors, and the checker's own power to fail
# ==================================================================================================
def test_third_derivative_of_x_to_the_fourth():
    x = leaf([0.5, -1.5, 2.0])
    g1, = autograd.grad((x ** 4).sum(), x, create_graph=True)        # 4 x^3
    g2, = autograd.grad(g1.sum(), x, create_graph=True)              # 12 x^2
    g3, = autograd.grad(g2.sum(), x, create_graph=True)              # 24 x
    np.testing.assert_allclose(g1.array, 4 * x.array ** 3)
    np.testing.assert_allclose(g2.array, 12 * x.array ** 2)
    np.testing.assert_allclose(g3.array, 24 * x.array)
    g4, = autograd.grad(g3.sum(), x)                                 # 24, and a fourth order on top
    np.testing.assert_allclose(g4.array, 24.0)


def test_third_derivative_through_a_critic():
    """Conv, layer norm and leaky relu recorded twice over: the gradient of a gradient penalty's gradient."""
    rng = np.random.default_rng(8)
    W, x = normal(rng, 2, 1, 3, 3), normal(rng, 2, 1, 5, 5)
    critic = lambda W, x: F.leaky_relu(F.layer_norm(F.conv2d(x, W, stride=2), (2, 2, 2)), 0.2).sum()  # noqa: E731

    def penalty_gradient(W, x):
        with tinygan.enable_grad():                                  # gradgradcheck first calls it under no_grad
            g, = autograd.grad(critic(W, x), x, create_graph=True)
            gW, = autograd.grad((g * g).sum(), W, create_graph=True)
        return gW

    assert gradgradcheck(penalty_gradient, [W, x])


def test_batch_norm_names_itself_when_a_second_derivative_is_asked():
    critic = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(18, 1))
    x = tinygan.randn(4, 1, 5, 5, requires_grad=True)
    g, = autograd.grad(critic(x).sum(), x, create_graph=True)          # the first derivative works
    assert g.shape == x.shape
    with pytest.raises(NoSecondDerivativeError, match="BatchNorm.*LayerNorm"):
        ((g.flatten(1).norm(dim=1) - 1) ** 2).mean().backward()


def test_layer_norm_critic_has_the_second_derivative_batch_norm_lacks():
    critic = nn.Sequential(nn.Conv2d(1, 2, 3), nn.LayerNorm((2, 3, 3)), nn.LeakyReLU(0.2), nn.Flatten(),
                           nn.Linear(18, 1))
    x = tinygan.randn(4, 1, 5, 5, requires_grad=True)
    g, = autograd.grad(critic(x).sum(), x, create_graph=True)
    ((g.flatten(1).norm(dim=1) - 1) ** 2).mean().backward()
    grads = {name: p.grad for name, p in critic.named_parameters()}
    # dD/dx depends on neither bias after the conv: each is added before a piecewise-linear map or at the end
    assert grads.pop("1.bias") is None and grads.pop("4.bias") is None
    assert all(g is not None and np.isfinite(g.array).all() for g in grads.values())


def test_gradgradcheck_catches_a_wrong_second_derivative_value(monkeypatch):
    """A backward_graph whose value is wrong: the recorded first derivative differs from backward's."""
    monkeypatch.setattr(elem.Tanh, "backward_graph", lambda self, gy: gy * (1 - self.inputs[0].tanh() ** 2) * 1.01)
    x = normal(np.random.default_rng(9), 3)
    with pytest.raises(GradcheckError, match="create_graph=True differs"):
        gradgradcheck(lambda x: x.tanh(), [x])


def test_gradgradcheck_catches_a_backward_graph_that_is_not_recorded(monkeypatch):
    """The right value but computed on arrays (a constant): the second-order term is missing, and finite
    differences of the recorded first derivative see it."""
    monkeypatch.setattr(elem.Tanh, "backward_graph",
                        lambda self, gy: gy * constant(1 - np.tanh(self.inputs[0].array) ** 2))
    x = normal(np.random.default_rng(9), 3)
    assert gradgradcheck(lambda x: x.tanh(), [x], raise_exception=False) is False
    with pytest.raises(GradcheckError, match="random direction"):
        gradgradcheck(lambda x: x.tanh(), [x])


def test_gradgradcheck_fails_on_an_op_without_a_second_derivative():
    class Cube(tinygan.Function):
        """y = x^3 with an array backward only."""

        def forward(self, x):
            self.x = x
            return x ** 3

        def backward(self, gy):
            return gy * 3 * self.x ** 2

    x = normal(np.random.default_rng(10), 3)
    with pytest.raises(NoSecondDerivativeError, match="Cube"):
        gradgradcheck(lambda x: Cube.apply(x), [x])


# ==================================================================================================
# create_graph and autograd.grad semantics
# ==================================================================================================
def test_plain_backward_leaves_grad_outside_the_graph():
    x = leaf([1.0, 2.0])
    (x ** 3).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad
    np.testing.assert_allclose(x.grad.array, [3.0, 12.0])


def test_backward_with_create_graph_records_grad():
    x = leaf([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    g = x.grad
    x.grad = None
    g.sum().backward()                                               # d(3 x^2)/dx = 6 x
    np.testing.assert_allclose(x.grad.array, [6.0, 12.0])


def test_grad_does_not_accumulate_into_dot_grad():
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    g, = autograd.grad((x * w).sum(), x)
    np.testing.assert_allclose(g.array, [3.0, 4.0])
    assert x.grad is None and w.grad is None


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.array, [2.0])
    assert gu is None


def test_grad_frees_the_graph_unless_retained():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    autograd.grad(y, x, retain_graph=True)
    autograd.grad(y, x)                                              # still there the second time
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()                                                 # freed by the grad call before
    z = (x.exp() * x).sum()
    g, = autograd.grad(z, x, create_graph=True)                     # create_graph retains by default
    g2, = autograd.grad(z, x)
    np.testing.assert_allclose(g.array, g2.array)


def test_grad_outputs_multiple_outputs_and_inputs():
    a, b = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    y1, y2 = a * b, a + b * b
    v1, v2 = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    ga, gb = autograd.grad([y1, y2], [a, b], grad_outputs=[tinygan.tensor(v1), tinygan.tensor(v2)])
    np.testing.assert_allclose(ga.array, v1 * b.array + v2)
    np.testing.assert_allclose(gb.array, v1 * a.array + v2 * 2 * b.array)
    with pytest.raises(ValueError, match="grad_outputs"):
        autograd.grad([y1, y2], [a], grad_outputs=[tinygan.tensor(v1)])


def test_grad_outputs_can_be_differentiated():
    """With create_graph, a grad_outputs that requires grad is part of the recorded graph (double backward)."""
    x, v = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g, = autograd.grad(x ** 2, x, grad_outputs=v, create_graph=True)  # 2 x v
    gv, gx = autograd.grad(g.sum(), [v, x])
    np.testing.assert_allclose(gv.array, 2 * x.array)
    np.testing.assert_allclose(gx.array, 2 * v.array)


def test_grad_of_non_scalar_output_needs_grad_outputs():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="explicit gradient"):
        autograd.grad(x * 2, x)
