"""The content-addressed blob store: round trips, dedup, atomicity, path safety."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pathlib
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import fsspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.artifacts import ArtifactStore, BlobInfo, collect_files, sanitize_path
from loopml.errors import InvalidInput, NotFound, UnsafePath

# fork is fast where it exists; spawn elsewhere (the workers are module-level, so both work)
_MP = multiprocessing.get_context(
    "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
)


def _listing(folder: pathlib.Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _blob_files(root: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in (root / "blobs").rglob("*") if p.is_file())


@pytest.fixture
def local_root(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A local store root; fails the test if anything was created beside tmp_path."""
    before = _listing(tmp_path.parent)
    yield tmp_path / "store"
    assert _listing(tmp_path.parent) == before


@pytest.fixture
def memory_root() -> Iterator[str]:
    root = f"memory://loopml-test-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest) -> ArtifactStore:
    if request.param == "local":
        return ArtifactStore(str(request.getfixturevalue("local_root")))
    return ArtifactStore(request.getfixturevalue("memory_root"))


# --- round trips -------------------------------------------------------------------------


def test_put_bytes_round_trip_and_digest_is_sha256(store: ArtifactStore) -> None:
    data = b"hello \x00 world" * 1000
    info = store.put_bytes(data)
    assert info == BlobInfo(hashlib.sha256(data).hexdigest(), len(data))
    assert store.exists(info.sha256)
    assert store.read_bytes(info.sha256) == data
    with store.open(info.sha256) as f:
        assert f.read() == data
    assert store.verify(info.sha256)


def test_empty_bytes_round_trip(store: ArtifactStore) -> None:
    info = store.put_bytes(b"")
    assert info.size == 0 and store.read_bytes(info.sha256) == b""


def test_put_file_and_get_file_round_trip_big_file(
    store: ArtifactStore, tmp_path: pathlib.Path
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 12345))
    info = store.put_file(src)
    assert info.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert info.size == src.stat().st_size
    dest = tmp_path / "out" / "copy.bin"
    store.get_file(info.sha256, dest)
    assert dest.read_bytes() == src.read_bytes()
    assert _listing(dest.parent) == {"copy.bin"}  # no temp file left behind


def test_put_file_streams_instead_of_loading_the_file(tmp_path: pathlib.Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(12):
            f.write(os.urandom(1024 * 1024))
    tracemalloc.start()
    try:
        info = store.put_file(src)
        store.verify(info.sha256)
        store.get_file(info.sha256, tmp_path / "copy.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, f"peak {peak} bytes: a 12 MiB file was loaded whole"
    assert (tmp_path / "copy.bin").read_bytes() == src.read_bytes()


def test_memory_root_stores_blobs_under_blobs_prefix(memory_root: str) -> None:
    store = ArtifactStore(memory_root)
    info = store.put_bytes(b"abc")
    uri = store.blob_uri(info.sha256)
    assert uri == f"{memory_root}/blobs/{info.sha256[:2]}/{info.sha256[2:]}"
    with fsspec.open(uri, "rb") as f:
        assert f.read() == b"abc"
    fs = fsspec.filesystem("memory")
    leftovers = [p for p in fs.find(memory_root) if "/blobs/" not in p]
    assert leftovers == []


def test_local_blob_uri_is_a_readable_file(local_root: pathlib.Path) -> None:
    store = ArtifactStore(str(local_root))
    info = store.put_bytes(b"abc")
    uri = store.blob_uri(info.sha256)
    assert uri == str(local_root / "blobs" / info.sha256[:2] / info.sha256[2:])
    assert pathlib.Path(uri).read_bytes() == b"abc"


def test_file_uri_root_is_local(tmp_path: pathlib.Path) -> None:
    store = ArtifactStore((tmp_path / "s").as_uri())
    info = store.put_bytes(b"x")
    assert store.root_uri == str(tmp_path / "s")
    assert (tmp_path / "s" / "blobs" / info.sha256[:2] / info.sha256[2:]).read_bytes() == b"x"


def test_relative_root_is_resolved_and_nothing_is_written_outside(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent_before = _listing(tmp_path.parent)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    store = ArtifactStore("art")
    assert store.root_uri == str(work / "art")
    monkeypatch.chdir(tmp_path)  # a later chdir does not move the store
    src = tmp_path / "cwd" / "in.txt"
    src.write_text("payload")
    a = store.put_bytes(b"one")
    b = store.put_file(src)
    store.get_file(a.sha256, work / "got.txt")
    assert store.verify(b.sha256) and store.read_bytes(b.sha256) == b"payload"
    assert _listing(tmp_path) == {"cwd"}
    assert _listing(work) == {"art", "in.txt", "got.txt"}
    assert _listing(work / "art") <= {"blobs", ".tmp"}
    assert list((work / "art").glob(".tmp/*")) == []
    assert _listing(tmp_path.parent) == parent_before


def test_root_that_is_a_file_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidInput, match="not a usable folder"):
        ArtifactStore(str(tmp_path / "f"))
    with pytest.raises(InvalidInput):
        ArtifactStore("")


# --- stored once ------------------------------------------------------------------------


def test_same_bytes_are_stored_once_and_not_rewritten(local_root: pathlib.Path) -> None:
    store = ArtifactStore(str(local_root))
    first = store.put_bytes(b"same content")
    [blob] = _blob_files(local_root)
    os.utime(blob, (1_000_000, 1_000_000))
    second = store.put_bytes(b"same content")
    assert second == first
    assert _blob_files(local_root) == [blob]
    assert blob.stat().st_mtime == 1_000_000


def test_same_file_twice_is_not_rewritten(local_root: pathlib.Path, tmp_path: pathlib.Path) -> None:
    store = ArtifactStore(str(local_root))
    src = tmp_path / "a.txt"
    src.write_bytes(b"file content")
    first = store.put_file(src)
    [blob] = _blob_files(local_root)
    os.utime(blob, (1_000_000, 1_000_000))
    assert store.put_file(src) == first == store.put_bytes(b"file content")
    assert _blob_files(local_root) == [blob]
    assert blob.stat().st_mtime == 1_000_000


def test_concurrent_puts_from_threads_all_succeed(local_root: pathlib.Path) -> None:
    store = ArtifactStore(str(local_root))
    data = os.urandom(2 * 1024 * 1024)
    barrier = threading.Barrier(8)

    def put(_: int) -> BlobInfo:
        barrier.wait()
        return store.put_bytes(data)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(put, range(8)))
    assert len(set(results)) == 1
    assert len(_blob_files(local_root)) == 1
    assert store.verify(results[0].sha256)
    assert list(local_root.glob(".tmp/*")) == []


def _put_in_process(root: str, payload: bytes) -> str:
    return ArtifactStore(root).put_bytes(payload).sha256


def test_concurrent_puts_from_processes_all_succeed(local_root: pathlib.Path) -> None:
    data = os.urandom(1024 * 1024)
    with ProcessPoolExecutor(8, mp_context=_MP) as pool:
        digests = list(pool.map(_put_in_process, [str(local_root)] * 8, [data] * 8))
    assert set(digests) == {hashlib.sha256(data).hexdigest()}
    assert len(_blob_files(local_root)) == 1
    assert ArtifactStore(str(local_root)).read_bytes(digests[0]) == data


def _crash_during_put(root: str) -> None:
    import loopml.artifacts as artifacts

    def die(*_: object) -> None:
        os._exit(3)  # the process dies after the bytes were written, before the rename

    artifacts.os.replace = die  # type: ignore[assignment]
    ArtifactStore(root).put_bytes(b"x" * 100_000)


def test_crash_mid_put_leaves_no_blob_under_final_name(local_root: pathlib.Path) -> None:
    proc = _MP.Process(target=_crash_during_put, args=(str(local_root),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3
    store = ArtifactStore(str(local_root))
    sha = hashlib.sha256(b"x" * 100_000).hexdigest()
    assert not store.exists(sha)
    assert _blob_files(local_root) == []
    assert store.put_bytes(b"x" * 100_000).sha256 == sha  # the store still works
    assert store.verify(sha)


def test_failed_put_cleans_its_temp_file(
    local_root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ArtifactStore(str(local_root))

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("loopml.artifacts.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store.put_bytes(b"payload")
    assert _blob_files(local_root) == []
    assert list(local_root.glob(".tmp/*")) == []


# --- digests, missing and tampered blobs ---------------------------------------------------

BAD_DIGESTS = [
    "../../etc",
    "a" * 63,
    "a" * 65,
    "A" * 64,
    "g" * 64,
    "a" * 64 + "\n",
    "../" + "a" * 61,
    "",
]


@pytest.mark.parametrize("bad", BAD_DIGESTS)
def test_invalid_digest_is_refused_by_every_method(
    store: ArtifactStore, bad: str, tmp_path: pathlib.Path
) -> None:
    calls = [
        lambda: store.exists(bad),
        lambda: store.open(bad),
        lambda: store.read_bytes(bad),
        lambda: store.verify(bad),
        lambda: store.blob_uri(bad),
        lambda: store.get_file(bad, tmp_path / "out"),
    ]
    for call in calls:
        with pytest.raises(InvalidInput, match="sha256"):
            call()
    assert not (tmp_path / "out").exists()


def test_missing_digest_is_not_found(store: ArtifactStore, tmp_path: pathlib.Path) -> None:
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(sha)
    for call in (store.open, store.read_bytes, store.verify):
        with pytest.raises(NotFound, match=sha):
            call(sha)
    with pytest.raises(NotFound):
        store.get_file(sha, tmp_path / "dest.bin")
    assert not (tmp_path / "dest.bin").exists()


def test_verify_detects_bytes_modified_on_disk(local_root: pathlib.Path) -> None:
    store = ArtifactStore(str(local_root))
    info = store.put_bytes(b"the real model")
    assert store.verify(info.sha256)
    pathlib.Path(store.blob_uri(info.sha256)).write_bytes(b"the evil model")
    assert store.verify(info.sha256) is False


def test_verify_detects_tampering_on_memory_root(memory_root: str) -> None:
    store = ArtifactStore(memory_root)
    info = store.put_bytes(b"the real model")
    fsspec.filesystem("memory").pipe(store.blob_uri(info.sha256), b"tampered")
    assert store.verify(info.sha256) is False


def test_put_file_of_missing_file_is_invalid(store: ArtifactStore, tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidInput, match="nope.txt"):
        store.put_file(tmp_path / "nope.txt")


# --- logical paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("model.pkl", "model.pkl"),
        ("plots/roc.png", "plots/roc.png"),
        ("a//b/./c", "a/b/c"),
        ("./a/b/", "a/b"),
        ("a\\b.txt", "a/b.txt"),
        ("..hidden/x..y", "..hidden/x..y"),
        ("données/über.csv", "données/über.csv"),
    ],
)
def test_sanitize_path_accepts_relative_paths(given: str, expected: str) -> None:
    assert sanitize_path(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "a/../../x",
        "a/..",
        "/etc/passwd",
        "C:\\x",
        "C:x",
        "\\\\srv\\share",
        "a\\..\\b",
        "s3://bucket/key",
        "a/.../b",
        "a/.. /b",
        ".",
        "./",
        "x" * 1025,
    ],
)
def test_sanitize_path_refuses_escapes_and_names_the_path(bad: str) -> None:
    with pytest.raises(UnsafePath) as err:
        sanitize_path(bad)
    assert bad[:200] in str(err.value)


def test_sanitize_path_refuses_empty_and_nul() -> None:
    with pytest.raises(UnsafePath, match="is empty"):
        sanitize_path("")
    with pytest.raises(UnsafePath) as err:
        sanitize_path("a\x00b")
    assert repr("a\x00b") in str(err.value)


@given(st.text(alphabet=st.sampled_from("ab./\\:\x00 C"), max_size=20) | st.text(max_size=30))
def test_sanitize_path_never_returns_an_escaping_path(path: str) -> None:
    try:
        clean = sanitize_path(path)
    except UnsafePath:
        return
    parts = clean.split("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert not clean.startswith("/") and "\\" not in clean and ":" not in clean
    assert not pathlib.PurePosixPath(clean).is_absolute()
    assert not pathlib.PureWindowsPath(clean).is_absolute()
    assert not pathlib.PureWindowsPath(clean).drive
    assert sanitize_path(clean) == clean


# --- collecting a folder ------------------------------------------------------------------


def test_collect_files_lists_nested_files_sorted(tmp_path: pathlib.Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "b.txt").write_text("b")
    (tmp_path / "d" / "a.txt").write_text("a")
    (tmp_path / "d" / "sub" / "c.txt").write_text("c")
    (tmp_path / "d" / "empty").mkdir()
    got = collect_files(tmp_path / "d")
    root = (tmp_path / "d").resolve()
    assert got == [
        ("a.txt", root / "a.txt"),
        ("b.txt", root / "b.txt"),
        ("sub/c.txt", root / "sub" / "c.txt"),
    ]
    assert all(path.is_absolute() for _, path in got)


def test_collect_files_refuses_symlink_to_file_outside(tmp_path: pathlib.Path) -> None:
    (tmp_path / "secret").write_text("password")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ok.txt").write_text("fine")
    (tmp_path / "d" / "leak").symlink_to(tmp_path / "secret")
    with pytest.raises(UnsafePath) as err:
        collect_files(tmp_path / "d")
    assert str(tmp_path.resolve() / "d" / "leak") in str(err.value)


def test_collect_files_refuses_symlinked_folder_outside(tmp_path: pathlib.Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "up").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(UnsafePath, match="up"):
        collect_files(tmp_path / "d")


def test_collect_files_follows_symlinks_inside(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "d"
    (d / "real").mkdir(parents=True)
    (d / "real" / "f.txt").write_text("f")
    (d / "alias.txt").symlink_to(d / "real" / "f.txt")
    (d / "linked").symlink_to(d / "real", target_is_directory=True)
    got = dict(collect_files(d))
    real = (d / "real" / "f.txt").resolve()
    assert got == {"alias.txt": real, "linked/f.txt": real, "real/f.txt": real}


def test_collect_files_refuses_symlink_loops_and_broken_links(tmp_path: pathlib.Path) -> None:
    (tmp_path / "loop" / "a").mkdir(parents=True)
    (tmp_path / "loop" / "a" / "back").symlink_to(tmp_path / "loop", target_is_directory=True)
    with pytest.raises(InvalidInput, match="back"):
        collect_files(tmp_path / "loop")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "dangling").symlink_to(tmp_path / "broken" / "gone")
    with pytest.raises(InvalidInput, match="dangling"):
        collect_files(tmp_path / "broken")


def test_collect_files_refuses_missing_folder_or_a_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        collect_files(tmp_path / "missing")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InvalidInput, match="not a folder"):
        collect_files(tmp_path / "f.txt")


def test_collected_folder_round_trips_through_the_store(
    local_root: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    src = tmp_path / "src"
    (src / "plots").mkdir(parents=True)
    (src / "plots" / "roc.png").write_bytes(b"png")
    (src / "model.bin").write_bytes(b"model")
    store = ArtifactStore(str(local_root))
    manifest = {name: store.put_file(path).sha256 for name, path in collect_files(src)}
    out = tmp_path / "out"
    for name, sha in manifest.items():
        store.get_file(sha, out / sanitize_path(name))
    assert (out / "plots" / "roc.png").read_bytes() == b"png"
    assert (out / "model.bin").read_bytes() == b"model"
