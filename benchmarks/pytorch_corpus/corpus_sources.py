"""The corpus scripts' origins (corpus.json) and ``run.py --get``, which downloads them.

The scripts are not stored in this repository (we do not redistribute others' code). corpus.json pins each file:
its repository, path and commit, its license (SPDX id), and the sha256 and byte length of the exact file. ``get``
reads https://raw.githubusercontent.com/<repo>/<commit>/<path> for each file missing on disk and writes it
(atomically) only when both match; scripts go to scripts/<name>.py, license texts to LICENSES/<name>.txt.
"""
import hashlib
import json
import os
import pathlib
import tempfile
import urllib.error
import urllib.parse
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
MANIFEST = HERE / "corpus.json"
FOLDERS = {"scripts": (HERE / "scripts", ".py"), "licenses": (HERE / "LICENSES", ".txt")}
NOT_DOWNLOADED = "not downloaded (run.py --get)"
RAW = "https://raw.githubusercontent.com"


def load_manifest(path=MANIFEST):
    return json.loads(pathlib.Path(path).read_text())


def target(kind, name):
    """Where a manifest entry lives on disk: scripts/<name>.py or LICENSES/<name>.txt."""
    folder, suffix = FOLDERS[kind]
    return folder / f"{name}{suffix}"


def url_of(entry):
    """The raw file at its pinned commit; the path quoted (some have spaces)."""
    return f"{RAW}/{entry['repo']}/{entry['commit']}/{urllib.parse.quote(entry['path'])}"


def mismatch(entry, data):
    """Why ``data`` is not the pinned file (a short text), or None when its byte length and sha256 match."""
    if len(data) != entry["bytes"]:
        return f"{len(data)} bytes, expected {entry['bytes']}"
    digest = hashlib.sha256(data).hexdigest()
    return None if digest == entry["sha256"] else f"sha256 {digest[:12]}..., expected {entry['sha256'][:12]}..."


def missing_files(script_files):
    """The files among ``script_files`` (names in scripts/, e.g. "examples_mnist.py") that are not on disk."""
    folder = FOLDERS["scripts"][0]
    return [f for f in script_files if not (folder / f).exists()]


def write_atomic(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def download(entry, urlopen, timeout):
    """The pinned file's bytes; raises OSError (urllib's errors included) or ValueError (not the pinned file)."""
    with urlopen(url_of(entry), timeout=timeout) as response:
        data = response.read()
    why = mismatch(entry, data)
    if why:
        raise ValueError(f"downloaded file is not the pinned one ({why}); not written")
    return data


def fetch_one(entry, path, urlopen, timeout):
    """Download one pinned file to ``path``: (problem or None, network error text or None)."""
    try:
        data = download(entry, urlopen, timeout)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} from {url_of(entry)}", None
    except (urllib.error.URLError, OSError) as exc:               # DNS, refused, unreachable, timed out
        reason = str(getattr(exc, "reason", exc))
        return f"no network? could not reach {RAW} ({reason})", reason
    except ValueError as exc:
        return str(exc), None
    write_atomic(path, data)
    return None, None


def get(names=None, manifest=None, urlopen=urllib.request.urlopen, timeout=30, log=print):
    """Download every pinned file missing on disk (only scripts in ``names`` when given, and all license texts);
    one line per file that fails. A file present but different is reported, not replaced. Returns 0 when every
    file asked for is on disk and matches, else 1."""
    manifest = manifest or load_manifest()
    counts = {"downloaded": 0, "already there": 0, "failed": 0}
    offline = None                                       # after the first network error the rest are not tried
    for kind in ("scripts", "licenses"):
        for name, entry in manifest[kind].items():
            if kind == "scripts" and names is not None and name not in names:
                continue
            path = target(kind, name)
            if path.exists():
                why = mismatch(entry, path.read_bytes())
                problem, outcome = why and f"differs from corpus.json ({why}); delete it and rerun --get", \
                    "already there"
            elif offline:
                problem, outcome = f"not tried, no network ({offline})", None
            else:
                (problem, offline), outcome = fetch_one(entry, path, urlopen, timeout), "downloaded"
            counts["failed" if problem else outcome] += 1
            if problem:
                log(f"{path.relative_to(HERE)} ({entry['repo']} {entry['path']} @{entry['commit'][:12]}): "
                    f"{problem}")
    log(", ".join(f"{n} {k}" for k, n in counts.items()))
    return 1 if counts["failed"] else 0
