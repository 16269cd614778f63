"""Every ```python block in docs/ runs: the blocks of one chapter in order, in one namespace, in a temp dir.

Chapters save their pictures under ``IMAGES = pathlib.Path("docs/images")``, a path relative to the working
directory. A reader runs the chapters from the repository root, so the pictures land in docs/images/; this
test runs each chapter in a fresh temporary directory, so the same code writes into <tmp>/docs/images/ and
the committed pictures are never rewritten (checked below, byte for byte). It also checks that every picture
a chapter shows is one its own code draws, and that the committed copy exists and is small.

Run one or more chapters by hand, from the repository root (this rewrites their pictures in docs/images/); the
runner needs tinygan alone (``pip install -e .``), not pytest, which only the tests below import:

    python tests/test_docs.py docs/01_derivative.md
"""
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

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


def main(argv):
    """The runner: run the chapters named in ``argv`` (every chapter without any) from the repository root."""
    paths = [pathlib.Path(arg).resolve() for arg in argv] or FILES
    for arg, path in zip(argv, paths):
        if path.suffix != ".md" or not path.is_file():
            print(f"test_docs.py: error: {arg} is not a chapter (a .md file, e.g. docs/03_layers.md)", file=sys.stderr)
            return 2
    os.chdir(ROOT)
    for path in paths:
        start = time.perf_counter()
        run_markdown(path)
        print(f"--- {os.path.relpath(path, ROOT)}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":          # the runner stops here, so it never needs pytest
    sys.exit(main(sys.argv[1:]))

import pytest  # noqa: E402  (the tests below; pip install -e ".[test]")


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


# python -c HIDDEN tests/test_docs.py CHAPTER: the runner with pytest (and hypothesis, the other test extra) not
# importable, as in a virtual environment made with `pip install -e .` alone (what docs/README.md asks for)
HIDDEN = ("import runpy, sys\n"
          "for name in ('pytest', '_pytest', 'hypothesis'):\n"
          "    sys.modules[name] = None                  # import pytest: ModuleNotFoundError\n"
          "sys.argv = sys.argv[1:]\n"
          "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def _runner_copy(tmp_path):
    """This file and docs/ copied to tmp_path, so the runner (which works in its repository root) draws the
    chapters' pictures there and never over the committed ones."""
    (tmp_path / "tests").mkdir()
    shutil.copy(__file__, tmp_path / "tests" / "test_docs.py")
    shutil.copytree(DOCS, tmp_path / "docs")
    return tmp_path


def test_the_chapter_runner_needs_no_pytest(tmp_path):
    root = _runner_copy(tmp_path)
    done = subprocess.run([sys.executable, "-c", HIDDEN, "tests/test_docs.py", "docs/03_layers.md"], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "--- docs/03_layers.md: " in done.stderr and "Traceback" not in done.stderr
    for name in pictures_shown(DOCS / "03_layers.md"):            # drawn in the copy, as a reader's run would
        assert (root / "docs" / "images" / name).is_file()


def test_the_runner_names_a_path_that_is_not_a_chapter(tmp_path):
    root = _runner_copy(tmp_path)
    done = subprocess.run([sys.executable, "-c", HIDDEN, "tests/test_docs.py", "docs/3_layers.md"], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "test_docs.py: error: docs/3_layers.md is not a chapter (a .md file, e.g. docs/03_layers.md)\n"
