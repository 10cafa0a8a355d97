"""Evidence files (photos and PDFs) stored by their SHA-256, so the audit names the exact file.

A file is checked by its content, never by its name: the first bytes must be those of a JPEG, a PNG or a PDF,
and Pillow must be able to verify and decode an image. It is written once under ``root/ab/abcdef....ext``
(the same file uploaded twice is stored once) with a JPEG thumbnail for images under ``root/thumbs/``. The
event carries ``sha256:<hex>``; the console serves a file only to an account that may see a hazard naming it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hazardloop.models.core.errors import InvalidInput, Problem

MAX_BYTES = 10 * 1024 * 1024  # a phone photo is 2–6 MB; a scanned rectification report a few MB
MAX_PIXELS = 40_000_000  # beyond this a "photo" is a decompression bomb, not evidence
THUMB_SIZE = (360, 360)
PREFIX = "sha256:"
_HEX = re.compile(r"[0-9a-f]{64}")

# (magic bytes, kind, extension, media type)
_KINDS = (
    (b"\xff\xd8\xff", "jpeg", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "png", "image/png"),
    (b"%PDF-", "pdf", "pdf", "application/pdf"),
)
MEDIA_TYPES = {ext: media for _magic, _kind, ext, media in _KINDS}


@dataclass(frozen=True)
class StoredEvidence:
    sha256: str
    kind: str  # jpeg, png, pdf
    size: int
    name: str  # the uploader's file name, for display only

    @property
    def reference(self) -> str:
        return PREFIX + self.sha256


def reference_hash(reference: str) -> str | None:
    """The hex digest in an event's evidence entry (``sha256:<hex>``), or None for any other text."""
    text = str(reference).strip().lower()
    digest = text.removeprefix(PREFIX)
    return digest if text.startswith(PREFIX) and _HEX.fullmatch(digest) else None


def default_evidence_dir(database_url: str) -> Path:
    """Beside the SQLite file (``<folder>/evidence``); for a server database, ``./evidence``."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "evidence"
    return Path("evidence").resolve()


def _refuse(name: str, message: str) -> InvalidInput:
    return InvalidInput([Problem(message, source=name or "upload", field="evidence")])


def sniff(data: bytes) -> tuple[str, str] | None:
    """(kind, extension) from the first bytes, or None when they are not a JPEG, PNG or PDF."""
    for magic, kind, ext, _media in _KINDS:
        if data.startswith(magic):
            return kind, ext
    return None


class EvidenceStore:
    def __init__(self, root: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def check(self, data: bytes, name: str) -> tuple[str, str]:
        """Refuse anything that is not a readable JPEG, PNG or PDF of an acceptable size; return (kind, ext)."""
        shown = _display_name(name)
        if not data:
            raise _refuse(shown, f"文件“{shown}”是空的，请重新选择照片或PDF文件。")
        if len(data) > self.max_bytes:
            raise _refuse(
                shown,
                f"文件“{shown}”有{len(data) / 1048576:.1f} MB，超过了{self.max_bytes // 1048576} MB的上限，"
                "请压缩后再上传。",
            )
        found = sniff(data)
        if found is None:
            raise _refuse(
                shown, f"文件“{shown}”不是JPEG、PNG照片或PDF文件（按文件内容判断，与文件名无关），不能作为佐证材料。"
            )
        kind, ext = found
        if kind in ("jpeg", "png"):
            _verify_image(data, shown)
        elif b"%%EOF" not in data[-2048:]:
            raise _refuse(shown, f"文件“{shown}”不是完整的PDF文件（文件尾缺失），请重新导出后上传。")
        return kind, ext

    def store(self, data: bytes, name: str) -> StoredEvidence:
        kind, ext = self.check(data, name)
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest, ext)
        if not target.exists():
            _write_atomically(target, data)
        if kind != "pdf":
            thumb = self.thumb_path(digest)
            if not thumb.exists():
                _write_atomically(thumb, _thumbnail(data))
        return StoredEvidence(sha256=digest, kind=kind, size=len(data), name=_display_name(name))

    def path_for(self, digest: str, ext: str) -> Path:
        return self.root / digest[:2] / f"{digest}.{ext}"

    def thumb_path(self, digest: str) -> Path:
        return self.root / "thumbs" / digest[:2] / f"{digest}.jpg"

    def find(self, digest: str) -> tuple[Path, str] | None:
        """The stored file of a digest and its media type, or None."""
        if not _HEX.fullmatch(digest):
            return None
        for ext, media in MEDIA_TYPES.items():
            path = self.path_for(digest, ext)
            if path.is_file():
                return path, media
        return None


def _display_name(name: str) -> str:
    # A file name is the uploader's text: keep it short and on one line before it goes into a message.
    base = os.path.basename(str(name or "").replace("\\", "/"))
    return " ".join(base.split())[:80] or "上传的文件"


def _verify_image(data: bytes, shown: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise _refuse(shown, f"照片“{shown}”的像素过多（{width}×{height}），请缩小后再上传。")
            probe.verify()  # checks the structure (PNG checksums, JPEG markers) without decoding
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() does not decode; a truncated image fails only here
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _refuse(
            shown, f"照片“{shown}”已损坏或无法读取（{type(exc).__name__}），请重新拍摄或导出后上传。"
        ) from None


def _thumbnail(data: bytes) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        image = ImageOps.exif_transpose(image)  # phones store portrait photos sideways with a rotation tag
        image.thumbnail(THUMB_SIZE)
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()


def _write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
