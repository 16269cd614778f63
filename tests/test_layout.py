"""The package layout's rules, checked on the source: imports point one way, no module reaches into another's
private names, the core stays small enough to read in one sitting, every file and every function of the app small
enough to read whole, the compatibility layer adds to the core's Tensor in one place without changing it, and the
README and docs name files that exist, the core in the order its own docstring gives.

    examples -> tinygan.app -> tinygan (the package) -> compat, vision -> nn, optim, utils -> functional,
    creation, gradcheck, graph, serialization, autograd -> ops -> core -> core.array_backend, rng, allocator,
    kernels, fileio

Two edges go against the flow, on purpose: the core's operators (``a + b``, ``x.sum()``) call the Functions in
ops/, imported at the bottom of core/tensor.py after Tensor and Function exist; and ``Tensor.backward(
create_graph=True)`` hands over to tinygan.autograd, which records the backward.
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tinygan"
CORE = PACKAGE / "core"

RANKS = {                              # a module may import modules of its own rank or lower
    "tinygan.core.array_backend": 0, "tinygan.rng": 0, "tinygan.allocator": 0,
    "tinygan.fileio": 0, "tinygan.kernels": 0, "tinygan.cuda_graph": 0,
    "tinygan.core": 1,
    "tinygan.ops": 2,
    "tinygan.functional": 3, "tinygan.creation": 3, "tinygan.gradcheck": 3, "tinygan.graph": 3,
    "tinygan.serialization": 3, "tinygan.autograd": 3, "tinygan.autograd_function": 3,
    "tinygan.nn": 4, "tinygan.optim": 4, "tinygan.utils": 4,
    "tinygan.compat": 5,               # what PyTorch code needs beyond the engine; never imported below
    "tinygan.vision": 5,               # torchvision's datasets, transforms, save_image (and the IDX files)
    "tinygan": 6,                      # with the modules that name others: tinygan.tensor, backend, cuda, backends,
                                       # tensor_functions (for code that imports from them)
    "tinygan.app": 7, "tinygan.gan": 7, "tinygan.sample": 7,   # the last two: launchers kept for old paths
    "tinygan.evaluate": 7,                 # the launcher of python -m tinygan.evaluate
}
ALLOWED_AGAINST_THE_FLOW = {("tinygan.core", "tinygan.ops"), ("tinygan.core", "tinygan.autograd")}

# the core, read in one sitting
CORE_MAX_LINES = 1300                  # all of tinygan/core/
CORE_FILE_MAX_LINES = 600              # each file, read whole
TENSOR_CLASS_MAX_LINES = 500
BACKWARD_WALK_MAX_LINES = 40           # backward_pass: the loop of the chain rule
CORE_FUNCTION_MAX_LINES = 45           # any function or method of the core: one screen


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rank_group(name):
    """The longest key of RANKS that is ``name`` or a package above it; None for a module with no place."""
    while name and name not in RANKS:
        name = name.rpartition(".")[0]
    return name or None


def tinygan_imports(path):
    """(imported module, [names imported from it]) for every import of a tinygan module in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tinygan":
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tinygan":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists() or \
                        (PACKAGE.parent / sub.replace(".", "/")).is_dir():
                    yield sub, []                       # from tinygan.ops import conv: the module itself
                else:
                    yield node.module, [alias.name]


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_place_in_the_layout():
    unplaced = [module_name(p) for p in SOURCES if rank_group(module_name(p)) is None]
    assert len(SOURCES) > 40 and not unplaced
    assert rank_group("tinygan.core.tensor") == "tinygan.core" and rank_group("tinygan.tensor") == "tinygan"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_point_one_way_and_stay_public(path):
    source = rank_group(module_name(path))
    for target, names in tinygan_imports(path):
        group = rank_group(target)
        if (source, group) not in ALLOWED_AGAINST_THE_FLOW:
            assert RANKS[group] <= RANKS[source], f"{module_name(path)} imports {target}, which sits above it"
        if target != module_name(path):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{module_name(path)} imports private names {private} from {target}"


def test_the_old_public_paths_still_work():
    import tinygan
    import tinygan.app.gan
    import tinygan.gan
    assert tinygan.gan.GAN is tinygan.app.gan.GAN
    assert tinygan.nn.Linear and tinygan.optim.Adam and tinygan.functional.conv2d
    assert (PACKAGE / "sample.py").read_text().count("from tinygan.app.sample import main") == 1


def test_the_modules_that_name_the_core_and_compat_reach_the_same_objects():
    import tinygan
    import tinygan.backend
    import tinygan.backends.cudnn as cudnn
    import tinygan.compat
    import tinygan.core
    import tinygan.cuda
    import tinygan.tensor_functions
    from tinygan.tensor import Function, Tensor, no_grad
    assert Tensor is tinygan.Tensor is tinygan.core.Tensor and Function is tinygan.core.Function
    assert no_grad is tinygan.no_grad and callable(tinygan.tensor)          # tinygan.tensor stays the function
    assert tinygan.cuda is tinygan.compat.cuda and tinygan.backends is tinygan.compat.backends
    assert cudnn is tinygan.compat.backends.cudnn and tinygan.tensor_functions is tinygan.compat.tensor_functions
    assert tinygan.backend.get_array_module is tinygan.core.array_backend.get_array_module
    assert tinygan.backend.keep_freed_memory and tinygan.backend.manual_seed is tinygan.manual_seed


# ==================================================================================================
# The core: imports, size
# ==================================================================================================
CORE_SOURCES = sorted(CORE.glob("*.py"))


def _functions(tree):
    """(qualified name, lines) of every function and method in a module's tree."""
    for node in tree.body:
        bodies = node.body if isinstance(node, ast.ClassDef) else [node]
        for item in bodies:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                prefix = f"{node.name}." if isinstance(node, ast.ClassDef) else ""
                yield prefix + item.name, item.end_lineno - item.lineno + 1


@pytest.mark.parametrize("group", ["tinygan.core", "tinygan.compat"])
def test_the_core_and_compat_import_only_below_them(group):
    allowed = {"tinygan.core": {"tinygan.core", "tinygan.core.array_backend", "tinygan.ops", "tinygan.autograd"},
               "tinygan.compat": {g for g, rank in RANKS.items() if rank <= RANKS["tinygan.compat"]}}[group]
    for path in SOURCES:
        if rank_group(module_name(path)) in (group, group + ".array_backend"):
            for target, _ in tinygan_imports(path):
                assert rank_group(target) in allowed, f"{module_name(path)} imports {target}"


def test_the_core_is_read_in_one_sitting():
    lines = {path.name: len(path.read_text().splitlines()) for path in CORE_SOURCES}
    assert {"function.py", "backward.py", "tensor.py", "array_backend.py"} <= set(lines)
    assert sum(lines.values()) <= CORE_MAX_LINES, lines
    assert max(lines.values()) <= CORE_FILE_MAX_LINES, lines
    tree = ast.parse((CORE / "tensor.py").read_text())
    tensor = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    assert tensor.end_lineno - tensor.lineno + 1 <= TENSOR_CLASS_MAX_LINES
    walk = dict(_functions(ast.parse((CORE / "backward.py").read_text())))["backward_pass"]
    assert walk <= BACKWARD_WALK_MAX_LINES
    for path in CORE_SOURCES:
        for name, n in _functions(ast.parse(path.read_text())):
            assert n <= CORE_FUNCTION_MAX_LINES, f"{path.name}: {name} has {n} lines"


# ==================================================================================================
# compat: PyTorch's extra Tensor methods, installed once onto the core's Tensor
# ==================================================================================================
def test_every_compat_tensor_method_is_on_tensor_and_the_core_keeps_its_own():
    import tinygan  # noqa: F401  (imports tinygan.compat, which installs the methods)
    from tinygan.compat.in_place import InPlaceMethods
    from tinygan.compat.tensor_methods import TensorMethods, install_tensor_methods
    from tinygan.core import Tensor
    methods = {**vars(InPlaceMethods), **vars(TensorMethods)}        # in_place.py's mixin, extended
    public = [n for n in methods if not n.startswith("_")]
    assert len(public) > 60 and {"add_", "exp_", "long", "new_zeros", "split", "norm", "is_xpu"} <= set(public)
    for name in public + ["__format__", "__iadd__"]:
        assert vars(Tensor)[name] is methods[name], name
    core_source = (CORE / "tensor.py").read_text()
    assert not [n for n in public if f"def {n}(" in core_source]     # one definition of each method
    install_tensor_methods(Tensor)                                    # a second call changes nothing

    class Core:
        def split(self):
            return "the core's"
    with pytest.raises(TypeError, match="split"):
        install_tensor_methods(Core)                                  # adds, never replaces
    assert Core().split() == "the core's"


def test_only_compat_adds_methods_to_tensor():
    """The one place a Tensor method is attached from outside the class: compat/__init__.py."""
    calls = [path for path in SOURCES if "install_tensor_methods(" in path.read_text()]
    assert sorted(p.relative_to(PACKAGE).as_posix() for p in calls) == ["compat/__init__.py",
                                                                       "compat/tensor_methods.py"]
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and node.args and \
                    getattr(node.args[0], "id", None) in ("Tensor", "tensor_class"):
                assert path.name == "tensor_methods.py", f"{path} sets an attribute of Tensor"


def test_no_comment_in_the_package_tells_history():
    import re
    pattern = re.compile(r"issue [0-9]+|old home|used to be|formerly", re.IGNORECASE)
    found = [f"{p.relative_to(PACKAGE)}:{i}" for p in SOURCES if "app" not in p.relative_to(PACKAGE).parts
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found


# ==================================================================================================
# Every file read whole; the app's functions one screen each
# ==================================================================================================
SOURCE_FILE_MAX_LINES = 600            # any source file in tinygan/
APP_FUNCTION_MAX_LINES = 80            # any function or method in tinygan/app/, nested ones too (from its def line)


def test_no_source_file_is_too_long_to_read_whole():
    lines = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in SOURCES}
    too_long = {name: n for name, n in lines.items() if n > SOURCE_FILE_MAX_LINES}
    assert not too_long, f"over {SOURCE_FILE_MAX_LINES} lines: {too_long}"


def test_no_function_of_the_app_is_longer_than_a_screen():
    too_long = []
    for path in sorted((PACKAGE / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1          # lineno is the def line: decorators not counted
                if n > APP_FUNCTION_MAX_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno} {node.name} ({n} lines)")
    assert not too_long, f"over {APP_FUNCTION_MAX_LINES} lines: {too_long}"


# ==================================================================================================
# The README and docs name files that exist
# ==================================================================================================
ROOT = PACKAGE.parent
README = ROOT / "README.md"
PROSE = [README] + sorted((ROOT / "docs").glob("*.md"))
NAMED_PATH = __import__("re").compile(r"(?<![\w~/.-])(?:\.\./)?((?:tinygan|tests|examples|benchmarks|docs)/[\w./-]*)")


def _layout_block():
    text = README.read_text()
    section = text[text.index("## Layout"):]
    return section[section.index("```\n") + 4:section.index("\n```", section.index("```\n") + 4)]


@pytest.mark.parametrize("path", PROSE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_paths_named_in_the_readme_and_docs_exist(path):
    missing = []
    for match in NAMED_PATH.finditer(path.read_text()):
        named = match.group(1).rstrip(".")
        if named.endswith((".py", ".md", ".sh", ".png", ".npz", "/")) and not (ROOT / named).exists():
            missing.append(named)
    assert not missing, f"{path.name} names files that do not exist: {missing}"


def test_the_readme_layout_lists_files_that_exist():
    """A bare file name in the layout (``    options.py``, ``allocator.py:``) is in the folder of the line above it
    that starts at the margin."""
    import re
    folder, missing = ROOT, []
    for line in _layout_block().splitlines():
        if line and not line[0].isspace():
            first = line.split()[0]
            folder = ROOT / first if first.endswith("/") else (ROOT / first).parent
        for name in re.findall(r"(?<![\w/.])(\w+\.py)\b", line):
            if not (folder / name).exists():
                missing.append(f"{name} (in {folder.relative_to(ROOT)})")
    assert not missing, missing


def test_the_readme_lists_the_core_in_the_order_of_its_docstring():
    import re
    import tinygan.core
    order = re.findall(r"^    (\w+\.py)", tinygan.core.__doc__, re.M)
    assert order[0] == "function.py" and len(order) == len(CORE_SOURCES) - 1      # every file but __init__.py
    block = _layout_block()
    core = block[block.index("tinygan/core/"):].splitlines()[1:len(order) + 1]
    assert [line.split()[0] for line in core] == order


def test_the_readme_and_docs_tell_no_history():
    import re
    pattern = re.compile(r"issue [0-9]+|old home|used to be|formerly|landed", re.IGNORECASE)
    found = [f"{p.relative_to(ROOT)}:{i}" for p in PROSE for i, line in enumerate(p.read_text().splitlines(), 1)
             if pattern.search(line)]
    assert not found
