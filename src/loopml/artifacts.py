"""Content-addressed blob store over fsspec: every artifact's bytes, stored once by sha256 at
``<root>/blobs/<sha[:2]>/<sha[2:]>``. Logical names ("plots/roc.png") live in the metadata
store; :func:`sanitize_path` and :func:`collect_files` keep them from escaping their folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import re
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem

from loopml.errors import InvalidInput, NotFound, UnsafePath

CHUNK_SIZE = 1 << 20  # 1 MiB: big files are streamed, never loaded whole
MAX_PATH_LENGTH = 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class BlobInfo:
    """What a put returns: the content address and the size in bytes."""

    sha256: str
    size: int


def _show(path: str) -> str:
    text = path if len(path) <= 200 else path[:200] + "..."
    return f"'{text}'" if text.isprintable() else repr(text)


def sanitize_path(path: str) -> str:
    """Normalise a user-given logical artifact path to a relative POSIX path, so that no name a
    user (or a malicious upload) gives can escape the folder it is later downloaded into.

    Backslashes count as separators. Refused with :class:`UnsafePath`: empty, longer than 1024
    characters, control characters (NUL...), absolute or UNC paths, any ':' (drive letters, URLs,
    NTFS streams), any '..' component (also '...' or '.. ' that Windows folds into '..'), and
    paths that normalise to nothing.
    """
    if not isinstance(path, str):
        raise InvalidInput(f"artifact path must be a string, got {type(path).__name__}")

    def refuse(problem: str) -> UnsafePath:
        return UnsafePath(
            f"artifact path {_show(path)} {problem}; "
            "give a relative path inside the artifact folder, such as 'plots/roc.png'"
        )

    if not path:
        raise refuse("is empty")
    if len(path) > MAX_PATH_LENGTH:
        raise refuse(f"is longer than {MAX_PATH_LENGTH} characters")
    if _CONTROL.search(path):
        raise refuse("contains a NUL or other control character")
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        raise refuse("is absolute")
    if ":" in posix:
        raise refuse("contains ':' (a drive letter, URL or Windows stream name)")
    parts: list[str] = []
    for part in posix.split("/"):
        if part in ("", "."):
            continue
        if unicodedata.normalize("NFKC", part).rstrip(". ") == "":
            raise refuse(f"has a '..' component (or only dots and spaces: {part!r})")
        parts.append(part)
    if not parts:
        raise refuse("names no file (it normalises to '.')")
    return "/".join(parts)


def _check_sha(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise InvalidInput(
            f"{sha256!r} is not a sha256 digest; expected 64 lowercase hex characters "
            "as returned by put_bytes/put_file"
        )
    return sha256


def _chunks(stream: BinaryIO) -> Iterable[bytes]:
    return iter(lambda: stream.read(CHUNK_SIZE), b"")


def _hash(chunks: Iterable[bytes], write: Callable[[bytes], object] | None = None) -> BlobInfo:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if write is not None:
            write(chunk)
    return BlobInfo(digest.hexdigest(), size)


def _fsync_dir(folder: str) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ArtifactStore:
    """Blobs addressed by their sha256 under one root: a local folder, ``file://...`` or any
    fsspec URI (``memory://``, ``s3://bucket/prefix``...). The same bytes are stored once."""

    def __init__(self, root_uri: str) -> None:
        text = os.fspath(root_uri) if isinstance(root_uri, os.PathLike) else root_uri
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(
                f"artifact root {root_uri!r} is empty; give a folder path or a URI such as "
                "'s3://bucket/artifacts' (LOOPML_ARTIFACTS)"
            )
        if "://" in text or "::" in text:
            fs, path = fsspec.core.url_to_fs(text)
        else:
            fs, path = LocalFileSystem(), text
        self._fs = fs
        self._local = isinstance(fs, LocalFileSystem)
        if self._local:
            root = pathlib.Path(path).expanduser().resolve()
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidInput(
                    f"artifact root '{root}' is not a usable folder ({exc.strerror}); "
                    "choose a writable folder path (LOOPML_ARTIFACTS)"
                ) from exc
            self.root_uri: str = str(root)
            self._root = root.as_posix()
        else:
            head, sep, tail = text.partition("://")
            self.root_uri = head + sep + tail.rstrip("/")
            self._root = path.rstrip("/")

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root_uri!r})"

    def _blob_path(self, sha256: str) -> str:
        _check_sha(sha256)
        return f"{self._root}/blobs/{sha256[:2]}/{sha256[2:]}"

    def blob_uri(self, sha256: str) -> str:
        """Where a blob lives, as a location ``fsspec.open`` (or ``open`` for a local root)
        accepts: for handing a blob to another tool without copying it."""
        _check_sha(sha256)
        if self._local:
            return os.path.join(self.root_uri, "blobs", sha256[:2], sha256[2:])
        return f"{self.root_uri}/blobs/{sha256[:2]}/{sha256[2:]}"

    def exists(self, sha256: str) -> bool:
        """Whether the store already holds these bytes (puts use it to skip writing)."""
        path = self._blob_path(sha256)
        return os.path.isfile(path) if self._local else bool(self._fs.exists(path))

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store bytes; storing the same bytes again writes nothing."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"put_bytes needs bytes, got {type(data).__name__}")
        info = BlobInfo(hashlib.sha256(data).hexdigest(), len(data))
        return info if self.exists(info.sha256) else self._store([bytes(data)])

    def put_file(self, local_path: str | os.PathLike[str]) -> BlobInfo:
        """Store a local file, streamed in 1 MiB chunks. It is hashed first, so content already
        stored is never re-written (or re-uploaded); the copy is hashed again as it is written,
        so a file changing meanwhile is stored under the digest of the bytes actually copied."""
        src = pathlib.Path(local_path)
        if not src.is_file():
            raise InvalidInput(f"cannot store '{src}': it is not an existing file")
        with open(src, "rb") as f:
            info = _hash(_chunks(f))
        if self.exists(info.sha256):
            return info
        with open(src, "rb") as f:
            return self._store(_chunks(f))

    def _store(self, chunks: Iterable[bytes]) -> BlobInfo:
        """Write to a temp file under the root, then move it to its final name unless the bytes
        are already there (a concurrent writer won: the existing blob and its mtime stay)."""
        tmp_dir, moved = f"{self._root}/.tmp", False
        if self._local:
            os.makedirs(tmp_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="blob-", suffix=".part")
            out = os.fdopen(fd, "wb")
        else:
            self._fs.makedirs(tmp_dir, exist_ok=True)
            tmp = f"{tmp_dir}/blob-{uuid.uuid4().hex}.part"
            out = self._fs.open(tmp, "wb")
        try:
            with out:
                info = _hash(chunks, out.write)
                if self._local:
                    out.flush()
                    os.fsync(out.fileno())
            final = self._blob_path(info.sha256)
            folder, present = final.rsplit("/", 1)[0], self.exists(info.sha256)
            if not present and self._local:
                os.makedirs(folder, exist_ok=True)
                try:
                    os.replace(tmp, final)
                    moved = True
                except OSError:
                    if not os.path.isfile(final):  # Windows: a reader holds the winner open
                        raise
                _fsync_dir(folder)
            elif not present:
                self._fs.makedirs(folder, exist_ok=True)
                self._fs.mv(tmp, final)
                moved = True
        finally:
            if not moved:
                with contextlib.suppress(Exception):
                    self._fs.rm(tmp)
        return info

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for streaming reads (close it, or use ``with``)."""
        path = self._blob_path(sha256)
        try:
            return open(path, "rb") if self._local else cast(BinaryIO, self._fs.open(path, "rb"))
        except FileNotFoundError:
            raise NotFound(
                f"blob {sha256} is not in the artifact store at '{self.root_uri}'; check the "
                "digest, or that LOOPML_ARTIFACTS points at the store the run was logged to"
            ) from None

    def read_bytes(self, sha256: str) -> bytes:
        """The whole blob in memory (for small blobs; use open or get_file for big ones)."""
        with self.open(sha256) as f:
            return f.read()

    def get_file(self, sha256: str, dest: str | os.PathLike[str]) -> None:
        """Copy a blob to a local file, streamed; ``dest`` appears complete or not at all."""
        target = pathlib.Path(dest)
        if target.is_dir():
            raise InvalidInput(f"cannot write blob to '{target}': it is a folder; give a file path")
        with self.open(sha256) as src:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK_SIZE)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def verify(self, sha256: str) -> bool:
        """Recompute the digest of the stored bytes: False means the blob was tampered with or
        corrupted on disk. A missing blob raises NotFound."""
        with self.open(sha256) as f:
            return _hash(_chunks(f)).sha256 == sha256


def collect_files(local_dir: str | os.PathLike[str]) -> list[tuple[str, pathlib.Path]]:
    """(logical relative path, absolute file path) for every file under ``local_dir``, sorted,
    so a folder can be logged as artifacts without ever reading a file outside it.

    Symlinks inside the folder are followed; a symlink resolving outside is refused
    (UnsafePath naming the link), as are broken links, link loops and special files.
    """
    base = pathlib.Path(local_dir)
    if not base.exists():
        raise InvalidInput(f"cannot collect files from '{base}': it does not exist")
    if not base.is_dir():
        raise InvalidInput(f"cannot collect files from '{base}': it is not a folder")
    root = base.resolve()
    found: list[tuple[str, pathlib.Path]] = []

    def walk(folder: pathlib.Path, prefix: str, ancestors: tuple[pathlib.Path, ...]) -> None:
        with os.scandir(folder) as entries:
            names = sorted(entry.name for entry in entries)
        for name in names:
            logical, link = prefix + name, folder / name
            target = link.resolve() if link.is_symlink() else link
            if link.is_symlink():
                if not target.is_relative_to(root):
                    raise UnsafePath(
                        f"symlink '{link}' ('{logical}') points to '{target}', outside '{root}'; "
                        "copy the file into the folder or remove the link"
                    )
                if not target.exists():
                    raise InvalidInput(f"symlink '{link}' is broken (points to '{target}'); fix it")
            if target.is_dir():
                if target in ancestors:
                    raise InvalidInput(f"symlink '{link}' loops back to '{target}'; remove it")
                walk(target, logical + "/", (*ancestors, target))
            elif target.is_file():
                if sanitize_path(logical) != logical:
                    raise UnsafePath(f"file name '{logical}' contains a backslash; rename the file")
                found.append((logical, target))
            else:
                raise InvalidInput(
                    f"'{link}' is not a regular file (socket, pipe, device); remove it"
                )

    walk(root, "", (root,))
    return sorted(found)
