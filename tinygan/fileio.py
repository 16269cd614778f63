"""Writing files all at once or not at all.

Every file tinygan writes (checkpoints, pictures, metrics, downloads) goes through ``write_atomically``:
the content is written to a temporary file in the same folder, flushed to disk, and renamed over the
target. A rename within one folder is atomic, so a reader (or a crash, or a NaN that stops training) sees
either the old file or the new one, never half of one.
"""
import os
import pathlib
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path, write):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then fsync it and rename it to ``path``.

    If ``write`` raises (a full disk, a failed checksum, Ctrl-C), the temporary file is removed and
    ``path`` is left as it was. The temporary file keeps ``path``'s suffix, so writers that choose a format
    by extension still work, and gets the permissions a normally created file would (mkstemp's are 0600).
    """
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        write(tmp)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    fsync_folder(path.parent)


def fsync_folder(folder):
    """Make renames in ``folder`` durable (POSIX); harmless to skip where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def unwritable_reason(folder):
    """Why files cannot be written in ``folder``, as the end of a sentence about it ("is a file, not a folder",
    "cannot be written: Read-only file system"), or None when they can.

    Checked by doing it: missing folders are created, a probe file is created and removed in ``folder``, and
    the folders created for the probe are removed again, so a command can refuse an output folder before any
    work instead of failing when it saves its results (permission bits alone do not tell: root ignores them,
    a read-only mount does not show in them).
    """
    folder = pathlib.Path(folder)
    missing = []
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        missing.append(existing)
        existing = existing.parent
    if os.path.lexists(existing) and not existing.is_dir():
        what = "a file, not a folder" if existing.is_file() else "not a folder"
        return f"is {what}" if existing == folder else f"cannot be created: {existing} is {what}"
    created = []
    try:
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except OSError as exc:
                return f"cannot be created: {exc.strerror or exc}"
            created.append(path)
        try:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".tinygan-probe-")
            os.close(fd)
            os.remove(probe)
        except OSError as exc:
            return f"cannot be written: {exc.strerror or exc}"
    finally:
        for path in reversed(created):
            try:
                os.rmdir(path)
            except OSError:
                pass
    return None
