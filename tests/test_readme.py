"""README's autograd snippet runs and prints the gradients its comments promise."""
import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_the_autograd_snippet_prints_what_its_comments_say():
    text = README.read_text()
    section = text[text.index("## Autograd by hand"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[0] == "<Tanh>"
    assert "[ 1.,  1., -1.]" in lines[1] and "[1., 2., 3.]" in lines[2]
    assert lines[3] == "True"
