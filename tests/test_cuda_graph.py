"""The training step captured as a CUDA graph (tinygan/app/graph_step.py on tinygan/cuda_graph.py, --cuda-graph),
proved on the strict CPU stand-in for CuPy (tests/strict_cupy.py), whose capture records every operation and
whose launch replays the recording with CUDA's semantics: Python scalars frozen at capture, arrays as fixed
buffers, no host code re-run, cuRAND draws repeated. What needs a real GPU is listed in the module docstring of
tinygan/cuda_graph.py.
"""
import dataclasses
import gc

import numpy as np
import pytest

import tinygan
from tinygan import backend, cuda_graph, nn, optim
from tinygan.app import cli
from tinygan.app.gan import GAN, MetricsLog
from tinygan.optim import adam

strict_cupy = pytest.importorskip("strict_cupy", reason="the strict CuPy stand-in needs CuPy installed "
                                                         "(pip install -e \".[gpucheck]\")")
import gpu_kernels  # noqa: E402  (after the skip)

pytestmark = pytest.mark.gpu


@pytest.fixture(params=["gpu-standin", "gpu"])
def gpu_path(request):
    """The stand-in, and a real GPU where there is one: what a graph must do, checked on both."""
    if request.param == "gpu":
        if not tinygan.device_available("gpu"):
            pytest.skip("no GPU: CuPy or a CUDA device is missing")
        yield backend.require_gpu()
        return
    with strict_cupy.standing_in() as cupy:
        yield cupy


def make_gan(graph, loss="nonsaturating", opt="adam", d_steps=1, seed=0):
    tinygan.manual_seed(seed)
    G = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 3), nn.Tanh()).to("gpu")
    D = nn.Sequential(nn.Linear(3, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)).to("gpu")
    if opt == "adam":
        opt_g = optim.Adam(G.parameters(), lr=1e-2, betas=(0.5, 0.999))
        opt_d = optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.999))
    else:
        opt_g = optim.RMSprop(G.parameters(), lr=1e-3)
        opt_d = optim.RMSprop(D.parameters(), lr=1e-3)
    return GAN(G, D, opt_g, opt_d, 4, loss=loss, d_steps=d_steps, device="gpu", cuda_graph=graph)


def batches(n, d_steps=1, seed=1):
    rng = np.random.default_rng(seed)
    return [[(tinygan.tensor(rng.standard_normal((8, 3)).astype(np.float32), device="gpu"), None)
             for _ in range(d_steps)] for _ in range(n)]


def train(gan, data, noise_seed=0):
    """Every step's metrics as floats; an eager GAN draws from the same in-graph generator as a graph one."""
    metrics = []
    if gan.config.cuda_graph:
        for group in data:
            metrics.append(gan.train_step(group))
    else:
        with backend.drawing_from("gpu", cuda_graph.CounterRandom(noise_seed)):
            for group in data:
                metrics.append(gan.train_step(group))
    return [{k: float(v) for k, v in m.items()} for m in metrics]


def weights(gan):
    return [p.array.get() for p in list(gan.G.parameters()) + list(gan.D.parameters())]


def assert_same_run(a, b, rtol=1e-5, atol=1e-6):
    (ma, wa), (mb, wb) = a, b
    for x, y in zip(ma, mb):
        for k in x:
            np.testing.assert_allclose(x[k], y[k], rtol=rtol, atol=atol, err_msg=k)
    for x, y in zip(wa, wb):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# ==================================================================================================
# The graph trains as eager steps do
# ==================================================================================================
@pytest.mark.parametrize("loss, opt, d_steps", [("nonsaturating", "adam", 1), ("hinge", "adam", 2),
                                                 ("wgan", "rmsprop", 2), ("wgan-gp", "adam", 2)])
def test_graph_steps_equal_eager_steps(gpu_path, loss, opt, d_steps):
    data = batches(8, d_steps)
    graph = make_gan(True, loss, opt, d_steps)
    run_graph = (train(graph, data), weights(graph))
    eager = make_gan(False, loss, opt, d_steps)
    run_eager = (train(eager, data), weights(eager))
    assert graph.graph_step.graph.launches == 7                      # step 1 eager; 2 captured; 2-8 launched
    assert_same_run(run_graph, run_eager)
    assert graph.opt_d.state_dict()["state"][0]["step"] == eager.opt_d.state_dict()["state"][0]["step"] == 8 * d_steps


def test_each_launch_draws_new_noise_and_the_counter_is_on_the_device(gpu_path):
    gen = cuda_graph.CounterRandom(3)
    outputs = {}

    def draw():
        outputs["z"] = gen.standard_normal((1000,), np.float32)
        outputs["u"] = gen.random_sample((1000,), np.float32)
        return outputs

    draw()                                               # warm-up: the index array is made outside the graph
    step = cuda_graph.capture(draw)
    seen = []
    for _ in range(3):
        step.launch()
        seen.append(step.outputs["z"].get().copy())
    assert not np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[1], seen[2])
    z = np.concatenate(seen)
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1 and z.dtype == np.float32
    u = step.outputs["u"].get()
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.05
    assert int(gen.counter.get()) == 2 * 4               # two draws per call: one eager, three launched
    again = cuda_graph.CounterRandom(3)                  # eagerly, the same seed gives the same numbers
    again.standard_normal((1000,), np.float32), again.random_sample((1000,), np.float32)
    np.testing.assert_array_equal(again.standard_normal((1000,), np.float32).get(), seen[0])


def test_a_cupy_random_draw_in_a_graph_replays_the_same_numbers(standin):
    """Why the in-graph generator exists: cuRAND's host API inside a graph repeats its numbers."""
    rs = standin.random.RandomState(0)
    step = cuda_graph.capture(lambda: {"z": rs.standard_normal((5,), np.float32)})
    step.launch()
    first = step.outputs["z"].get().copy()
    step.launch()
    np.testing.assert_array_equal(first, step.outputs["z"].get())


# ==================================================================================================
# The stand-in catches the classic graph bugs
# ==================================================================================================
@pytest.mark.parametrize("sync", ["float", "get", "bool", "item", "asnumpy", "synchronize"])
def test_a_host_sync_inside_the_captured_step_raises(standin, sync, monkeypatch):
    gan = make_gan(True)
    data = batches(2)
    gan.train_step(data[0])                              # warm-up
    read = {"float": float, "get": lambda a: a.get(), "bool": bool, "item": lambda a: a.item(),
            "asnumpy": lambda a: standin.asnumpy(a),
            "synchronize": lambda a: standin.cuda.get_current_stream().synchronize()}[sync]
    step = gan.discriminator_step

    def discriminator_step(*args, **kwargs):
        metrics = step(*args, **kwargs)
        read(metrics["d_loss"])                          # what a `print(loss.item())` in the loop does
        return metrics

    monkeypatch.setattr(gan, "discriminator_step", discriminator_step)
    with pytest.raises(strict_cupy.CaptureError, match="during CUDA graph capture"):
        gan.train_step(data[1])


def test_a_host_to_device_copy_inside_the_captured_step_raises(standin):
    x = standin.zeros(3, dtype=np.float32)
    with pytest.raises(strict_cupy.CaptureError, match="host-to-device"):
        cuda_graph.capture(lambda: x.__setitem__(Ellipsis, np.ones(3, np.float32)))


def test_capture_runs_nothing_until_launch(standin):
    """A real capture only records: memory made before it keeps its contents, arrays it made are garbage."""
    w = standin.ones(3, dtype=np.float32)

    def step():
        w.__iadd__(1.0)
        return {"y": w * 2}
    captured = cuda_graph.capture(step)
    np.testing.assert_array_equal(w.get(), [1, 1, 1])
    assert np.isnan(captured.outputs["y"].get()).all()
    captured.launch()
    np.testing.assert_array_equal(w.get(), [2, 2, 2])
    np.testing.assert_array_equal(captured.outputs["y"].get(), [4, 4, 4])


def test_a_frozen_host_step_size_is_caught(standin, monkeypatch):
    """Mutation: Adam's bias correction computed on the host in graph mode (a Python float frozen at capture)
    makes graph and eager runs differ, so the equality test above would fail."""
    real_update = adam.Adam._update

    def update_with_host_floats(self, k, group, step):
        saved, self._device_step = self._device_step, None
        try:
            real_update(self, k, group, step)           # step_size and bc2_sqrt as Python floats of `step`
        finally:
            self._device_step = saved

    data = batches(6)
    eager = make_gan(False)
    run_eager = (train(eager, data), weights(eager))
    monkeypatch.setattr(adam.Adam, "_update", update_with_host_floats)
    graph = make_gan(True)
    run_graph = (train(graph, data), weights(graph))
    with pytest.raises(AssertionError):
        assert_same_run(run_graph, run_eager)


def test_a_batch_not_copied_into_the_static_buffer_is_caught(standin, monkeypatch):
    """Mutation: launching without copying the new batch in trains on the captured batch for ever."""
    data = batches(6)
    eager = make_gan(False)
    run_eager = (train(eager, data), weights(eager))
    graph = make_gan(True)
    step = graph.graph_step
    real_capture = step.capture

    def capture_then_forget(groups):
        real_capture(groups)
        step.static_batches = [(tinygan.Tensor(r.array.copy()), l) for r, l in step.static_batches]   # never read
    monkeypatch.setattr(step, "capture", capture_then_forget)
    run_graph = (train(graph, data), weights(graph))
    with pytest.raises(AssertionError):
        assert_same_run(run_graph, run_eager)


def test_memory_does_not_grow_over_many_replays(standin):
    gan = make_gan(True)
    data = batches(1)[0]
    log = MetricsLog(sync_every=10)
    for step in range(1, 21):
        log.add(step, 1, gan.train_step(data))
    gc.collect()                        # earlier tests' garbage in cycles would otherwise go mid-count, any time
    live = strict_cupy.live_arrays()
    for step in range(21, 221):
        log.add(step, 1, gan.train_step(data))
    assert gan.graph_step.graph.launches == 219
    gc.collect()
    assert strict_cupy.live_arrays() == live                          # replays make no array that stays
    assert len(log.rows) == 220 and np.isfinite(np.asarray(log.rows)).all()


def test_changing_the_learning_rate_recaptures(gpu_path):
    data = batches(6)
    gan = make_gan(True)
    train(gan, data[:3])
    first = gan.graph_step.graph
    for opt in (gan.opt_d, gan.opt_g):
        opt.param_groups[0]["lr"] = 1e-3
    train(gan, data[3:])
    assert gan.graph_step.graph is not first                          # the old graph froze lr = 1e-2
    eager = make_gan(False)
    with backend.drawing_from("gpu", cuda_graph.CounterRandom(0)):
        for i, group in enumerate(data):
            if i == 3:
                for opt in (eager.opt_d, eager.opt_g):
                    opt.param_groups[0]["lr"] = 1e-3
            eager.train_step(group)
    for x, y in zip(weights(gan), weights(eager)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_a_new_config_recaptures(gpu_path):
    data = batches(6)
    gan = make_gan(True)
    train(gan, data[:3])
    first = gan.graph_step.graph
    gan.config = dataclasses.replace(gan.config, label_smoothing=0.1)
    train(gan, data[3:])
    assert gan.graph_step.graph is not first and gan.graph_step.graph.launches == 3   # the old graph froze 1.0
    eager = make_gan(False)
    with backend.drawing_from("gpu", cuda_graph.CounterRandom(0)):
        for i, group in enumerate(data):
            if i == 3:
                eager.config = dataclasses.replace(eager.config, label_smoothing=0.1)
            eager.train_step(group)
    for x, y in zip(weights(gan), weights(eager)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_a_batch_of_another_shape_runs_eagerly(gpu_path):
    gan = make_gan(True)
    data = batches(4)
    small = [(tinygan.tensor(np.zeros((3, 3), np.float32), device="gpu"), None)]
    for group in data[:3]:
        gan.train_step(group)
    launches = gan.graph_step.graph.launches
    metrics = gan.train_step(small)
    assert gan.graph_step.graph.launches == launches and np.isfinite(float(metrics["d_loss"]))
    gan.train_step(data[3])
    assert gan.graph_step.graph.launches == launches + 1


def test_graph_kernels_compile_for_sm80_and_sm90_in_single_precision():
    ok, reason = gpu_kernels.nvrtc_available()
    if not ok:
        pytest.skip(reason)
    for kernel, extra in ((cuda_graph.NORMAL_KERNEL, [0.5, 6.28]), (cuda_graph.UNIFORM_KERNEL, [0.5])):
        for dtype in (np.float32, np.float64):
            u = np.arange(4, dtype=np.uint64)
            values = [np.zeros((), np.uint64), np.zeros((), np.uint64), u, 40, *extra, np.empty(4, dtype)]
            source = gpu_kernels.compile_elementwise(kernel, values, archs=("sm_80", "sm_90"))
            assert f"void {kernel.name}(" in source


# ==================================================================================================
# The examples
# ==================================================================================================
def test_examples_train_with_cuda_graph_on_the_gpu_path(gpu_path, mnist_dir, tmp_path):
    out = tmp_path / "run"
    argv = ["--device", "gpu", "--data-dir", str(mnist_dir), "--split", "test", "--no-download", "--epochs", "1",
            "--limit-batches", "4", "--quiet", "--out", str(out), "--cuda-graph", "--log-every", "2"]
    assert cli.main(argv, arch="mlp") == 0
    ckpt = tinygan.load(out / "checkpoint.npz")
    assert ckpt["step"] == 4 and np.isfinite(ckpt["history"]["d_loss"]).all()
    assert ckpt["opt_g"]["state"][0]["step"] == 4


def test_toy_example_with_cuda_graph_and_a_conditional_dcgan(gpu_path, mnist_dir, tmp_path):
    assert cli.main(["--device", "gpu", "--epochs", "1", "--steps-per-epoch", "4", "--quiet", "--cuda-graph",
                     "--out", str(tmp_path / "toy")], arch="toy") == 0
    argv = ["--device", "gpu", "--data-dir", str(mnist_dir), "--split", "test", "--no-download", "--epochs", "1",
            "--limit-batches", "3", "--quiet", "--out", str(tmp_path / "c"), "--cuda-graph", "--conditional",
            "--loss", "wgan", "--d-steps", "2"]
    assert cli.main(argv, arch="dcgan") == 0


def test_a_resumed_run_warms_up_before_capturing(gpu_path):
    """Loaded optimizer state is not a warm-up: kernels and cached arrays must still be made outside the graph."""
    data = batches(4)
    first = make_gan(True)
    train(first, data[:2])
    resumed = make_gan(True)
    resumed.opt_d.load_state_dict(first.opt_d.state_dict())
    resumed.opt_g.load_state_dict(first.opt_g.state_dict())
    resumed.train_step(data[2])
    assert resumed.graph_step.graph is None
    resumed.train_step(data[3])
    assert resumed.graph_step.graph.launches == 1 and resumed.opt_g.state_dict()["state"][0]["step"] == 4
