"""The package layout's rules, checked on the source: imports point one way, and no module reaches into
another's private names.

    examples -> tinygan.app -> tinygan (the package) -> nn, optim -> functional, creation, gradcheck, graph,
    serialization, autograd -> ops -> core -> core.array_backend, rng, allocator, kernels, fileio

Two edges go against the flow, on purpose: the core's operators (``a + b``, ``x.sum()``) call the Functions in
ops/, imported at the bottom of core/tensor.py after Tensor and Function exist; and ``Tensor.backward(
create_graph=True)`` hands over to tinygan.autograd, which records the backward.
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tinygan"

RANKS = {                              # a module may import modules of its own rank or lower
    "tinygan.core.array_backend": 0, "tinygan.rng": 0, "tinygan.allocator": 0,
    "tinygan.fileio": 0, "tinygan.kernels": 0, "tinygan.cuda_graph": 0,
    "tinygan.core": 1,
    "tinygan.ops": 2,
    "tinygan.functional": 3, "tinygan.creation": 3, "tinygan.gradcheck": 3, "tinygan.graph": 3,
    "tinygan.serialization": 3, "tinygan.autograd": 3,
    "tinygan.tensor_functions": 3, "tinygan.cuda": 3, "tinygan.backends": 3,   # torch.*, torch.cuda, torch.backends
    "tinygan.nn": 4, "tinygan.optim": 4, "tinygan.utils": 4,
    "tinygan": 5,                      # with tinygan.tensor and tinygan.backend, which name the core's modules
    "tinygan.app": 6, "tinygan.gan": 6, "tinygan.sample": 6,   # the last two: launchers kept for old paths
    "tinygan.evaluate": 6,                 # the launcher of python -m tinygan.evaluate
    "tinygan.vision": 6,                   # torchvision's datasets, transforms, save_image: on app.data
}
ALLOWED_AGAINST_THE_FLOW = {("tinygan.core", "tinygan.ops"), ("tinygan.core", "tinygan.autograd")}


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
