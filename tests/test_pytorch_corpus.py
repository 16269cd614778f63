"""The PyTorch corpus (benchmarks/pytorch_corpus/) in CI, where torch is not installed: every script that
results.json records as running on tinygan must still run on tinygan, and its first losses must still be the ones
torch gave on the same weights and data (recorded in results.json by ``run.py``), so agreement with torch is what
is checked. Slow scripts stop after a few backward calls; the MNIST scripts skip only where the data is missing.
"""
import importlib.util
import json
import pathlib

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
    if "subset" in run.CORPUS[name] and not (run.DATA / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{name} reads MNIST from {run.DATA}, which is missing")
    recorded = RESULTS[name]
    cap = SLOW_CAP if recorded["tinygan1"].get("seconds", 0) > SLOW_SECONDS else None
    record = run.run_one(name, "tinygan", 1, tmp_path, run.DATA.resolve(), timeout=300, cap=cap)
    assert record["ok"], f"{name} ran on tinygan when results.json was written, now: {record.get('error')}"

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
