"""The graph viewers show the ops that were recorded, in the order backward visits them."""
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


def test_after_backward_graph_is_gone():
    x, w, y = _example()
    assert len(graph.format_graph(y).splitlines()) == 5
    y.backward()
    assert len(graph.format_graph(y).splitlines()) == 1  # the root alone: its inputs were released
