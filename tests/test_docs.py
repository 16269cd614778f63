"""Every ```python block in docs/ runs: the blocks of one chapter in order, in one namespace, in a temp dir.

Chapters save their pictures under ``IMAGES = pathlib.Path("docs/images")``, a path relative to the working
directory. A reader runs the chapters from the repository root, so the pictures land in docs/images/; this
test runs each chapter in a fresh temporary directory, so the same code writes into <tmp>/docs/images/ and
the committed pictures are never rewritten (checked below, byte for byte). It also checks that every picture
a chapter shows is one its own code draws, and that the committed copy exists and is small.

Run one or more chapters by hand, from the repository root (this rewrites their pictures in docs/images/):

    python tests/test_docs.py docs/01_derivative.md
"""
import hashlib
import os
import pathlib
import re
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FILES = sorted(DOCS.glob("[0-9][0-9]_*.md")) + [DOCS / "exercises.md", DOCS / "solutions.md"]
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
PICTURE = re.compile(r"\]\(images/([\w.-]+\.png)\)")
MAX_PICTURE_BYTES = 60_000


def python_blocks(path):
    """(first line number, source) of each ```python block of a markdown file, in order."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def run_markdown(path):
    """Run the file's python blocks in order in one namespace, in the current directory; tracebacks name
    the markdown file and its line numbers."""
    import matplotlib
    matplotlib.use("Agg")
    namespace = {"__name__": f"docs.{path.stem}"}
    for line, source in python_blocks(path):
        code = compile("\n" * (line - 1) + source, str(path), "exec")
        exec(code, namespace)
    import matplotlib.pyplot as plt
    plt.close("all")
    return namespace


def pictures_shown(path):
    return PICTURE.findall(path.read_text())


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def test_every_chapter_is_collected():
    assert len(FILES) >= 10, [p.name for p in FILES]
    for path in FILES:
        assert path.exists(), path
        assert python_blocks(path) or path.name == "README.md", f"{path.name} has no python block"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_chapter_runs(path, tmp_path, monkeypatch):
    before = _digest(DOCS / "images")
    monkeypatch.chdir(tmp_path)
    run_markdown(path)
    drawn = tmp_path / "docs" / "images"
    for name in pictures_shown(path):
        assert (drawn / name).is_file(), f"{path.name} shows images/{name}, but its code did not draw it"
    assert _digest(DOCS / "images") == before, "a chapter rewrote a committed picture in docs/images/"


def test_committed_pictures_exist_and_are_small():
    shown = {name for path in FILES + [DOCS / "README.md"] for name in pictures_shown(path)}
    for name in shown:
        picture = DOCS / "images" / name
        assert picture.is_file(), f"docs show images/{name}, which is not committed"
        assert picture.stat().st_size < MAX_PICTURE_BYTES, f"images/{name} is {picture.stat().st_size} bytes"
    unused = {p.name for p in (DOCS / "images").glob("*.png")} - shown
    assert not unused, f"pictures no chapter shows: {sorted(unused)}"


if __name__ == "__main__":
    os.chdir(ROOT)
    for arg in sys.argv[1:] or [str(p) for p in FILES]:
        start = time.perf_counter()
        run_markdown(pathlib.Path(arg).resolve())
        print(f"--- {arg}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
