"""A folder that acts as a read-only mount, for tests of output folders that cannot be written.

The tests run as root, and root ignores permission bits, so ``chmod a-w`` proves nothing; mounting a read-only
file system needs privileges CI does not have. Instead ``make_read_only(monkeypatch, folder)`` makes this process
see ``folder`` as the kernel shows a read-only mount: every call that would create, open for writing, rename
into or out of, or remove anything at or under it fails with EROFS (``OSError: [Errno 30] Read-only file
system``); reading works as before. Python's file-writing paths (``open(..., "w")``, ``Path.write_bytes``,
``tempfile.mkstemp``, ``Path.mkdir``, ``os.replace``) all go through the functions patched here.
"""
import builtins
import errno
import io
import os

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def make_read_only(monkeypatch, folder):
    folder = os.path.abspath(folder)

    def inside(path):
        if isinstance(path, int):                   # a file descriptor
            return False
        path = os.path.abspath(os.fsdecode(os.fspath(path)))
        return path == folder or path.startswith(folder + os.sep)

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    real = {name: getattr(os, name) for name in ("open", "mkdir", "replace", "rename", "remove", "unlink", "rmdir")}
    real_open = builtins.open

    def os_open(path, flags, mode=0o777, *, dir_fd=None):
        if flags & WRITE_FLAGS and inside(path):
            refuse(path)
        return real["open"](path, flags, mode, dir_fd=dir_fd)

    def mkdir(path, mode=0o777, *, dir_fd=None):
        if inside(path):
            refuse(path)
        return real["mkdir"](path, mode, dir_fd=dir_fd)

    def two_paths(name):
        def move(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
            if inside(src) or inside(dst):
                refuse(dst if inside(dst) else src)
            return real[name](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        return move

    def one_path(name):
        def remove(path, *, dir_fd=None):
            if inside(path):
                refuse(path)
            return real[name](path, dir_fd=dir_fd)
        return remove

    def open_(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and inside(file):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    for name in ("replace", "rename"):
        monkeypatch.setattr(os, name, two_paths(name))
    for name in ("remove", "unlink", "rmdir"):
        monkeypatch.setattr(os, name, one_path(name))
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)                  # pathlib.Path.open / write_text / write_bytes
