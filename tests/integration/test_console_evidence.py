"""The evidence store: files judged by their content (not their name), stored once by SHA-256 with a thumbnail, and
refused with a message that names the file and says what is wrong."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from hazardloop.models.core.errors import InvalidInput
from hazardloop.web.evidence import EvidenceStore, default_evidence_dir, reference_hash
from tests.support.console_browser import jpeg_bytes, png_bytes

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_a_photo_is_stored_once_under_its_sha256_with_a_thumbnail(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    photo = jpeg_bytes(size=(2000, 1500))
    first = store.store(photo, "现场.jpg")
    again = store.store(photo, "another-name.jpg")
    digest = hashlib.sha256(photo).hexdigest()
    assert first.sha256 == again.sha256 == digest and first.reference == f"sha256:{digest}"
    assert store.path_for(digest, "jpg").read_bytes() == photo
    assert len(list(tmp_path.rglob("*.jpg"))) == 2  # the photo and its thumbnail, each once
    with Image.open(store.thumb_path(digest)) as thumb:
        assert max(thumb.size) <= 360
    assert store.find(digest) == (store.path_for(digest, "jpg"), "image/jpeg")


def test_png_and_pdf_are_accepted_by_content(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    assert store.store(png_bytes(), "a.bin").kind == "png"  # the name does not matter
    pdf = store.store(PDF, "report.pdf")
    assert pdf.kind == "pdf" and store.find(pdf.sha256) is not None
    assert not store.thumb_path(pdf.sha256).exists()


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"MZ\x90\x00" + b"\x00" * 100, "photo.jpg", "不是JPEG、PNG照片或PDF文件"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.png", "不是JPEG、PNG照片或PDF文件"),
        (b"", "empty.jpg", "是空的"),
        (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "cut.pdf", "不是完整的PDF文件"),
    ],
)
def test_what_is_not_a_photo_or_pdf_is_refused_naming_the_file(
    tmp_path: Path, data: bytes, name: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        EvidenceStore(tmp_path).store(data, name)
    problem = refused.value.problems[0]
    assert words in problem.message and name in problem.message and problem.field == "evidence"
    assert not any(tmp_path.iterdir())


def test_a_damaged_image_and_an_oversized_file_are_refused(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, max_bytes=200_000)
    with pytest.raises(InvalidInput, match="已损坏或无法读取"):
        store.store(jpeg_bytes()[:300], "half.jpg")
    broken_png = bytearray(png_bytes())
    broken_png[40] ^= 0xFF  # a flipped byte inside the image data: the PNG checksum no longer matches
    with pytest.raises(InvalidInput, match="已损坏或无法读取"):
        store.store(bytes(broken_png), "flipped.png")
    noise = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))  # does not compress: over 1 MB
    big = io.BytesIO()
    noise.save(big, "PNG")
    with pytest.raises(InvalidInput, match="MB的上限"):
        store.store(big.getvalue(), "big.png")
    assert not any(tmp_path.iterdir())


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # a few kB on disk, 100 megapixels in memory
    with pytest.raises(InvalidInput, match="像素过多"):
        EvidenceStore(tmp_path).store(bomb.getvalue(), "bomb.png")


def test_the_default_folder_lives_beside_the_sqlite_file(tmp_path: Path) -> None:
    assert default_evidence_dir(f"sqlite:///{tmp_path / 'x.db'}") == tmp_path / "evidence"
    assert default_evidence_dir("postgresql+psycopg://u@h/db") == Path("evidence").resolve()


def test_only_a_well_formed_reference_names_a_file() -> None:
    digest = "ab" * 32
    assert reference_hash(f"sha256:{digest}") == digest
    assert reference_hash("sha256:../../etc/passwd") is None
    assert reference_hash("photo1.jpg") is None
