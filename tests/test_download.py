"""Tests of catsdogs.data.download against a tiny PetImages-style zip served on 127.0.0.1.

Nothing here touches the internet: every URL points at a local HTTP server bound to
127.0.0.1 on an ephemeral port.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from catsdogs.data.download import PETIMAGES_URL, download_file, extract_petimages, fetch_petimages, fetch_record

N_CATS, N_DOGS = 3, 2
ARCHIVE_NAME = "kagglecatsanddogs_5340.zip"


def _jpeg_bytes(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="JPEG")
    return buf.getvalue()


def make_petimages_zip(
    path: Path,
    n_cats: int = N_CATS,
    n_dogs: int = N_DOGS,
    top: str = "PetImages",
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Write a zip laid out like the Microsoft archive (images, Thumbs.db, readme)."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{top}/", b"")
        for folder, count, color in (("Cat", n_cats, (200, 120, 40)), ("Dog", n_dogs, (40, 90, 200))):
            zf.writestr(f"{top}/{folder}/", b"")
            for i in range(count):
                zf.writestr(f"{top}/{folder}/{i}.jpg", _jpeg_bytes(color))
            zf.writestr(f"{top}/{folder}/Thumbs.db", b"\xd0\xcf\x11\xe0 not an image")
        zf.writestr("readme[1].txt", b"Kaggle Cats and Dogs test archive\n")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


@dataclass
class LocalServer:
    root: Path
    base_url: str
    requests: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"


class _CountingQuietHandler(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.server.request_log.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """Serve ``tmp_path/served`` on 127.0.0.1:<ephemeral>, holding a valid archive."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")

    root = tmp_path / "served"
    root.mkdir()
    make_petimages_zip(root / ARCHIVE_NAME)

    handler = functools.partial(_CountingQuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.request_log = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        log: list[str] = httpd.request_log  # type: ignore[attr-defined]
        yield LocalServer(root=root, base_url=f"http://{host}:{port}", requests=log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_url_constant_is_the_microsoft_archive() -> None:
    assert PETIMAGES_URL.startswith("https://download.microsoft.com/")
    assert PETIMAGES_URL.endswith("/kagglecatsanddogs_5340.zip")


def test_fetch_extracts_cat_and_dog(server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = server.url(ARCHIVE_NAME)

    root = fetch_petimages(cache, url=url)

    assert root == cache / "datasets" / "PetImages"
    assert len(list((root / "Cat").glob("*.jpg"))) == N_CATS
    assert len(list((root / "Dog").glob("*.jpg"))) == N_DOGS
    assert (root / "Cat" / "Thumbs.db").is_file()  # extraction skips nothing
    assert (cache / "datasets" / "readme[1].txt").is_file()
    archive = cache / "downloads" / ARCHIVE_NAME
    assert archive.is_file()
    assert not list((cache / "downloads").glob("*.part"))

    record = fetch_record(cache)
    assert record is not None
    assert record.url == url
    assert record.archive == ARCHIVE_NAME
    assert record.sha256 == _sha256(server.root / ARCHIVE_NAME)
    assert record.size_bytes == archive.stat().st_size
    assert record.downloaded is True
    assert record.fetched_at
    assert json.loads((cache / "downloads" / "fetch_record.json").read_text()) == record.to_dict()


def test_second_fetch_does_not_download_again(server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = server.url(ARCHIVE_NAME)
    expected = _sha256(server.root / ARCHIVE_NAME)

    first = fetch_petimages(cache, url=url, expected_sha256=expected)
    record = fetch_record(cache)
    second = fetch_petimages(cache, url=url, expected_sha256=expected.upper())
    third = fetch_petimages(cache, url=url)

    assert first == second == third
    assert server.requests == [f"/{ARCHIVE_NAME}"]
    assert fetch_record(cache) == record  # provenance keeps the original download


def test_extraction_is_reused_after_archive_removed(server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    root = fetch_petimages(cache, url=server.url(ARCHIVE_NAME))
    (cache / "downloads" / ARCHIVE_NAME).unlink()

    assert fetch_petimages(cache, url=server.url(ARCHIVE_NAME)) == root
    assert len(server.requests) == 1


def test_sha256_mismatch_raises_and_leaves_no_partial(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / "dl" / ARCHIVE_NAME
    wrong = "0" * 64
    actual = _sha256(server.root / ARCHIVE_NAME)

    with pytest.raises(ValueError) as info:
        download_file(server.url(ARCHIVE_NAME), dest, expected_sha256=wrong, progress=False)

    message = str(info.value)
    assert ARCHIVE_NAME in message and wrong in message and actual in message
    assert "try again" in message
    assert not dest.exists()
    assert not list(dest.parent.iterdir())  # no .part left behind


def test_malformed_sha256_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected_sha256"):
        download_file("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", expected_sha256="abc")


def test_existing_file_is_verified_before_reuse(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / ARCHIVE_NAME
    dest.write_bytes(b"stale")
    good = _sha256(server.root / ARCHIVE_NAME)

    download_file(server.url(ARCHIVE_NAME), dest, expected_sha256=good, progress=False)
    download_file(server.url(ARCHIVE_NAME), dest, expected_sha256=good, progress=False)

    assert _sha256(dest) == good
    assert len(server.requests) == 1  # stale file replaced once, then reused


def test_http_404_raises_runtime_error_with_manual_hint(server: LocalServer, tmp_path: Path) -> None:
    url = server.url("missing.zip")
    dest = tmp_path / "dl" / "missing.zip"

    with pytest.raises(RuntimeError) as info:
        download_file(url, dest, progress=False)

    message = str(info.value)
    assert url in message
    assert "CATSDOGS_DATA_DIR" in message and "--data-dir" in message
    assert not dest.exists() and not list(dest.parent.glob("*.part"))


def test_unreachable_server_raises_runtime_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{ARCHIVE_NAME}"

    with pytest.raises(RuntimeError, match="CATSDOGS_DATA_DIR"):
        fetch_petimages(tmp_path / "cache", url=url)


def test_zip_without_petimages_is_rejected(tmp_path: Path) -> None:
    archive = make_petimages_zip(tmp_path / "other.zip", top="SomethingElse")

    with pytest.raises(ValueError, match=r"other\.zip.*PetImages/Cat/"):
        extract_petimages(archive, tmp_path / "out")


def test_non_zip_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "page.zip"
    archive.write_text("<html>not a zip</html>")

    with pytest.raises(ValueError, match=r"page\.zip is not a zip"):
        extract_petimages(archive, tmp_path / "out")


@pytest.mark.parametrize("evil", ["../evil.txt", "PetImages/../../evil.txt", "/abs/evil.txt"])
def test_zip_slip_member_is_rejected(tmp_path: Path, evil: str) -> None:
    archive = make_petimages_zip(tmp_path / "evil.zip", extra={evil: b"pwned"})
    out = tmp_path / "nested" / "out"

    with pytest.raises(ValueError, match="refusing to extract"):
        extract_petimages(archive, out)

    assert not (tmp_path / "nested" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert not out.exists()  # nothing extracted at all


def test_extraction_is_idempotent(tmp_path: Path) -> None:
    archive = make_petimages_zip(tmp_path / ARCHIVE_NAME)
    out = tmp_path / "out"

    root = extract_petimages(archive, out)
    sentinel = root / "Cat" / "0.jpg"
    sentinel.write_bytes(b"changed")  # a re-extraction would overwrite this

    assert extract_petimages(archive, out) == root
    assert sentinel.read_bytes() == b"changed"


def test_fetch_record_is_none_for_empty_cache(tmp_path: Path) -> None:
    assert fetch_record(tmp_path) is None
