"""The graph viewers show the ops that were recorded, in the order backward visits them."""
import numpy as np
import pytest

import tinygan
from tinygan import graph


def _example():
    x = tinygan.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tinygan.tensor([0.5, -1.0, 2.0], requires_grad=True)
    return x, w, (x * w).sum().tanh()


def test_backward_order_is_reverse_topological():
    x, w, y = _example()
    assert [type(f).__name__ for f in graph.backward_order(y)] == ["Tanh", "Sum", "Mul"]


def test_format_graph_names_ops_and_leaves():
    x, w, y = _example()
    text = graph.format_graph(y, named={"x": x, "w": w})
    lines = text.splitlines()
    assert lines[0].startswith("Tanh -> scalar")
    assert lines[1].strip().startswith("Sum -> scalar")
    assert lines[2].strip().startswith("Mul -> 3")
    assert "leaf x 3 float32" in text and "leaf w 3 float32" in text


def test_shared_input_is_shown_once():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    assert graph.format_graph(y).count("(shown above)") == 1


def test_dot_has_an_edge_per_input():
    x, w, y = _example()
    dot = graph.to_dot(y)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("->") == 3 + 4  # three op->output edges, four input->op edges (x, w, mul, sum)
    assert 'label="Mul", shape=box' in dot


def test_after_backward_the_viewers_say_the_graph_was_freed():
    x, w, y = _example()
    assert len(graph.format_graph(y).splitlines()) == 5
    y.backward()
    for viewer in (graph.format_graph, graph.to_dot, graph.backward_order, graph.trace):
        with pytest.raises(RuntimeError) as error:
            viewer(y)
        assert str(error.value) == ("the graph below this tensor was freed by backward(); call it before "
                                    "backward, or pass retain_graph=True to backward")


def test_retain_graph_keeps_the_graph_viewable():
    x, w, y = _example()
    y.backward(retain_graph=True)
    assert len(graph.format_graph(y).splitlines()) == 5


def test_format_graph_names_constant_inputs_even_through_a_flatten():
    real = tinygan.tensor(np.ones((2, 1, 2, 2)))
    real.name = "real"
    fake = tinygan.tensor(np.zeros((2, 1, 2, 2)))
    fake.name = "fake"
    W = tinygan.tensor(np.ones((4, 3)), requires_grad=True)
    loss = (real.flatten(1) @ W).sum() + (fake.flatten(1) @ W).sum()
    text = graph.format_graph(loss, named={"W": W})
    assert "const real 2x4 float64" in text and "const fake 2x4 float64" in text
    assert "leaf W 4x3 float64" in text


# ==================================================================================================
# trace: backward with a row per Function
# ==================================================================================================
def test_trace_rows_on_a_known_graph():
    x = tinygan.tensor([1.0, 2.0, 3.0], dtype=np.float64, requires_grad=True)
    w = tinygan.tensor([0.5, -1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = (x * w).sum().tanh()                               # y = tanh(s), s = sum(x * w) = 4.5
    t = graph.trace(y)
    d = 1 - np.tanh(4.5) ** 2                              # dy/ds
    xv, wv = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    assert [r["op"] for r in t.rows] == ["Tanh", "Sum", "Mul"]
    assert [r["step"] for r in t.rows] == [1, 2, 3]
    assert [r["inputs"] for r in t.rows] == [[()], [(3,)], [(3,), (3,)]]
    assert [r["output"] for r in t.rows] == [(), (), (3,)]
    np.testing.assert_allclose([r["gy_norm"] for r in t.rows], [1.0, d, d * np.sqrt(3)], rtol=1e-9)
    np.testing.assert_allclose(t.rows[0]["gx_norms"], [d], rtol=1e-9)
    np.testing.assert_allclose(t.rows[1]["gx_norms"], [d * np.sqrt(3)], rtol=1e-9)
    np.testing.assert_allclose(t.rows[2]["gx_norms"], [d * np.linalg.norm(wv), d * np.linalg.norm(xv)], rtol=1e-9)
    assert all(r["ms"] >= 0 for r in t.rows) and len(t) == 3
    np.testing.assert_allclose(x.grad.array, d * wv, rtol=1e-9)   # leaves accumulate as in backward
    np.testing.assert_allclose(w.grad.array, d * xv, rtol=1e-9)


def test_trace_reports_none_for_an_input_without_gradient_and_takes_a_gradient():
    x = tinygan.tensor([3.0, 4.0], requires_grad=True)
    c = tinygan.tensor([1.0, 2.0])
    t = graph.trace(x * c, gradient=np.array([0.0, 2.0]))
    (row,) = t.rows
    assert row["op"] == "Mul" and row["gy_norm"] == pytest.approx(2.0)
    assert row["gx_norms"][0] == pytest.approx(4.0) and row["gx_norms"][1] is None
    np.testing.assert_allclose(x.grad.array, [0.0, 4.0])


def test_trace_table_has_a_header_a_line_per_op_and_a_total():
    x, w, y = _example()
    lines = str(graph.trace(y, retain_graph=True)).splitlines()
    assert lines[0].split() == ["step", "op", "inputs", "output", "|gy|", "|gx|", "per", "input", "ms"]
    assert set(lines[1]) == {"-"}
    assert lines[2].split()[:4] == ["1", "Tanh", "scalar", "scalar"]
    assert lines[4].split()[:5] == ["3", "Mul", "3,", "3", "3"]
    assert lines[-1].startswith("3 backward calls, ")
    assert len(graph.format_graph(y).splitlines()) == 5   # retain_graph=True kept it


def test_trace_without_observer_costs_nothing_and_sees_hooks():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    h.register_hook(lambda g: g * 3.0)
    t = graph.trace(h.sum())
    assert t.rows[1]["op"] == "MulScalar" and t.rows[1]["gy_norm"] == pytest.approx(3.0 * np.sqrt(2))


# ==================================================================================================
# draw: boxes and arrows with matplotlib
# ==================================================================================================
def _texts(fig, gid):
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == gid]


def test_draw_writes_a_png_and_returns_a_figure_with_a_box_per_op_and_leaf(tmp_path):
    from matplotlib.figure import Figure
    x, w, y = _example()
    path = tmp_path / "graph.png"
    fig = graph.draw(y, path, names={"x": x, "w": w})
    assert isinstance(fig, Figure)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.png"]          # no temporary file left behind
    assert sorted(_texts(fig, "node")) == sorted(["Tanh\nscalar", "Sum\nscalar", "Mul\n3", "x\n3", "w\n3"])
    assert _texts(fig, "grad") == []                                      # no backward yet: no gradients
    assert len(fig.axes[0].patches) == 5 + 4                              # 5 boxes, 4 arrows


def test_draw_labels_each_tensor_with_a_gradient_once_with_its_norm():
    x = tinygan.tensor([3.0, 4.0], requires_grad=True)
    c = tinygan.tensor([1.0, 2.0])
    c.name = "real"
    h = x * c                                  # dL/dh = 2h = (6, 16); dL/dx = 2h c = (6, 32); x also in Add
    h.retain_grad()
    loss = (h * h).sum() + x.sum()             # h feeds one Mul twice: one label for it, not two
    loss.backward(retain_graph=True)
    fig = graph.draw(loss)
    assert sorted(_texts(fig, "node")) == sorted(["Add\nscalar", "Sum\nscalar", "Sum\nscalar", "Mul\n2",
                                                  "Mul\n2", "leaf\n2", "real\n2"])
    expected = [np.hypot(6.0, 16.0), np.hypot(7.0, 33.0)]    # h, and x (+1 from x.sum()); the sums keep none
    assert sorted(float(t) for t in _texts(fig, "grad")) == pytest.approx(sorted(expected), rel=1e-2)


def test_draw_gives_a_named_result_its_own_box():
    x = tinygan.tensor([1.0, -1.0], requires_grad=True)
    h = x.tanh()
    h.name = "hidden"
    fig = graph.draw((h * 2.0).sum())
    assert sorted(_texts(fig, "node")) == sorted(["Sum\nscalar", "MulScalar\n2", "hidden\n2", "Tanh\n2",
                                                  "leaf\n2"])


def test_draw_a_discriminator_step_has_a_box_per_op_and_per_leaf():
    from tinygan.app import models
    from tinygan.app.gan import discriminator_loss
    tinygan.manual_seed(0)
    D = models.mlp_discriminator(in_shape=(1, 4, 4), hidden=(8, 4))
    real, fake = tinygan.randn(3, 1, 4, 4), tinygan.randn(3, 1, 4, 4)
    real.name, fake.name = "real", "fake"
    loss = discriminator_loss("nonsaturating", D(real), D(fake))
    loss.backward(retain_graph=True)
    fig = graph.draw(loss, names=dict(D.named_parameters()))
    nodes = _texts(fig, "node")
    assert len(nodes) == len(graph.backward_order(loss)) + 6 + 2 + 2      # ops, 6 parameters, real/fake, targets
    assert "real\n3x16" in nodes and "fake\n3x16" in nodes and "1.weight\n8x16" in nodes
    assert len(_texts(fig, "grad")) == 6                                  # one per parameter


def test_draw_after_backward_says_the_graph_was_freed():
    x, w, y = _example()
    y.backward()
    with pytest.raises(RuntimeError, match=r"^the graph below this tensor was freed by backward\(\)"):
        graph.draw(y)
