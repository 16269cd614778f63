"""The PyTorch corpus (benchmarks/pytorch_corpus/) in CI, where torch is not installed: every script that
results.json records as running on tinygan must still run on tinygan, and its first losses must still be the ones
torch gave on the same weights and data (recorded in results.json by ``run.py``), so agreement with torch is what
is checked. Slow scripts stop after a few backward calls; the MNIST scripts skip where the data is missing.

The scripts are not stored in this repository (corpus.json pins them; ``run.py --get`` downloads them): a script not
downloaded is skipped, so CI without the network stays green; the manifest's own checks and ``--get`` (against a
stand-in for the network) run everywhere.
"""
import hashlib
import importlib.util
import io
import json
import pathlib
import re
import urllib.error

import pytest

CORPUS_DIR = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "pytorch_corpus"
N_LOSSES = 3                 # losses compared, as in RESULTS.md's agreement column
FLOAT32_ROUNDING = 2e-5      # relative; the table's "agree" is 1e-5, with room for another BLAS
SLOW_SECONDS = 5.0           # a script whose recorded tinygan run took longer ...
SLOW_CAP = N_LOSSES          # ... stops after this many backward calls


def load_runner():
    spec = importlib.util.spec_from_file_location("pytorch_corpus_run", CORPUS_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load_runner()
sources = run.corpus_sources
MANIFEST = sources.load_manifest()
RESULTS = json.loads((CORPUS_DIR / "results.json").read_text())
RUNS_ON_TINYGAN = [name for name, r in RESULTS.items() if name in run.CORPUS and r.get("tinygan1", {}).get("ok")]


def reference_of(recorded):
    """torch's recorded run where it has something to compare with, else tinygan's own (torch failed early)."""
    torch_run = recorded.get("torch1")
    if torch_run and (torch_run.get("losses") or torch_run.get("ok")):
        return torch_run
    return recorded["tinygan1"]


def test_the_ci_list_is_the_tables_list():
    assert len(RUNS_ON_TINYGAN) >= 20, RUNS_ON_TINYGAN
    assert {"morvan_302_classification", "morvan_503_dropout", "examples_dcgan"} <= set(RUNS_ON_TINYGAN)


@pytest.mark.parametrize("name", RUNS_ON_TINYGAN)
def test_corpus_script_still_runs_on_tinygan_with_torchs_first_losses(name, tmp_path):
    if run.not_downloaded(name):
        pytest.skip(f"{name}: {sources.NOT_DOWNLOADED}")
    if "subset" in run.CORPUS[name] and not (run.DATA / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{name} reads MNIST from {run.DATA}, which is missing")
    recorded = RESULTS[name]
    cap = SLOW_CAP if recorded["tinygan1"].get("seconds", 0) > SLOW_SECONDS else None
    record = run.run_one(name, "tinygan", 1, tmp_path, run.DATA.resolve(), timeout=300, cap=cap)
    assert record["ok"], f"{name} ran on tinygan when results.json was written, now: {record.get('error')}"

    if "incomparable" in run.CORPUS[name]:
        return                                   # its numbers are each framework's own random draws: running is the check
    reference = reference_of(recorded)
    what, now, then, pairs = run.compared_values(record, reference, N_LOSSES)
    assert len(pairs) == len([v for v in then if v is not None]), f"{name}: {what} {now} vs recorded {then}"
    if not pairs:
        return                                   # a script without losses or printed decimals: running is the check
    _, _, _, recorded_pairs = run.compared_values(recorded["tinygan1"], reference, N_LOSSES)
    allowed = max(FLOAT32_ROUNDING, 10 * run.relative_difference(recorded_pairs)) if recorded_pairs \
        else FLOAT32_ROUNDING
    worst = run.relative_difference(pairs)
    assert worst <= allowed, (f"{name}: first {what} values {now} moved from the recorded "
                              f"{reference['framework']} ones {then} (relative {worst:.1e} > {allowed:.1e})")


# ==================================================================================================
# The manifest (corpus.json) and run.py --get
# ==================================================================================================
def test_every_corpus_script_and_module_beside_it_is_pinned_with_its_license():
    beside = {module[:-len(".py")] for entry in run.CORPUS.values() for module in entry.get("beside", {}).values()}
    needed = set(run.CORPUS) | beside
    assert needed == set(MANIFEST["scripts"])
    license_of = {e["repo"]: e["license"] for e in MANIFEST["licenses"].values()}
    for name, entry in MANIFEST["scripts"].items():
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
        assert entry["license"] == license_of[entry["repo"]] and entry["bytes"] > 0, name


def test_sources_md_names_the_pinned_repository_path_and_commit():
    row = re.compile(r"^\| scripts/(\S+)\.py \| (\S+) \| (.+?) \| `(\w+)` \|", re.M)
    rows = row.findall((run.HERE / "SOURCES.md").read_text())
    assert {n: (r, p, c) for n, r, p, c in rows} == {n: (e["repo"], e["path"], e["commit"])
                                                     for n, e in MANIFEST["scripts"].items()}


@pytest.mark.parametrize("kind", ["scripts", "licenses"])
def test_downloaded_files_are_the_pinned_ones(kind):
    present = {n: e for n, e in MANIFEST[kind].items() if sources.target(kind, n).exists()}
    if not present:
        pytest.skip(f"no {kind} downloaded (run.py --get)")
    changed = {n: sources.mismatch(e, sources.target(kind, n).read_bytes()) for n, e in present.items()}
    assert not {n: why for n, why in changed.items() if why}


def fake_network(files):
    """A stand-in for urllib's urlopen serving ``files`` ({url: bytes}); any other url is a 404."""
    def urlopen(url, timeout):
        if url not in files:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return io.BytesIO(files[url])
    return urlopen


def pin(repo, path, data):
    return {"repo": repo, "path": path, "commit": "0" * 40, "license": "MIT", "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """--get writing into tmp_path instead of scripts/ and LICENSES/."""
    monkeypatch.setattr(sources, "FOLDERS", {"scripts": (tmp_path / "scripts", ".py"),
                                             "licenses": (tmp_path / "LICENSES", ".txt")})
    monkeypatch.setattr(sources, "HERE", tmp_path)
    return tmp_path


def test_get_downloads_checks_and_writes_only_the_pinned_bytes(sandbox):
    good, lic = b"print('a')\n", b"MIT License\n"
    manifest = {"scripts": {"a": pin("o/r", "dir with space/a.py", good), "b": pin("o/r", "b.py", b"x = 1\n")},
                "licenses": {"o-r": pin("o/r", "LICENSE", lic)}}
    url = "https://raw.githubusercontent.com/o/r/" + "0" * 40
    served = {f"{url}/dir%20with%20space/a.py": good, f"{url}/b.py": b"x = 2\n", f"{url}/LICENSE": lic}
    lines = []
    assert sources.get(manifest=manifest, urlopen=fake_network(served), log=lines.append) == 1
    assert (sandbox / "scripts" / "a.py").read_bytes() == good
    assert (sandbox / "LICENSES" / "o-r.txt").read_bytes() == lic
    assert not (sandbox / "scripts" / "b.py").exists() and not list((sandbox / "scripts").glob("*.part"))
    assert len(lines) == 2 and "scripts/b.py" in lines[0] and "not the pinned one" in lines[0]
    assert lines[-1] == "2 downloaded, 0 already there, 1 failed"
    lines.clear()                                        # a second time: nothing to download but b
    assert sources.get(manifest=manifest, names=["a"], urlopen=fake_network({}), log=lines.append) == 0
    assert lines == ["0 downloaded, 2 already there, 0 failed"]


def test_get_without_network_says_so_once_per_file_and_writes_nothing(sandbox):
    def offline(url, timeout):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))
    manifest = {"scripts": {"a": pin("o/r", "a.py", b"1"), "b": pin("o/r", "b.py", b"2")}, "licenses": {}}
    lines = []
    assert sources.get(manifest=manifest, urlopen=offline, log=lines.append) == 1
    assert "no network" in lines[0] and "no network" in lines[1] and len(lines) == 3
    assert not (sandbox / "scripts").exists() or not list((sandbox / "scripts").iterdir())


def test_a_script_not_downloaded_is_reported_not_run(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "FOLDERS", {"scripts": (tmp_path, ".py"), "licenses": (tmp_path, ".txt")})
    name = next(iter(run.CORPUS))
    assert run.not_downloaded(name) == [f"{name}.py"]
    record = run.run_one(name, "tinygan", 1, tmp_path, run.DATA, timeout=10)
    assert not record["ok"] and record["error"] == "not downloaded (run.py --get)"
