"""A generation record inside the image file itself, written and read without re-encoding.

Why splice bytes rather than re-save with Pillow: a re-save re-compresses the pixels (a
JPEG or lossy WebP loses quality again, a PNG changes size and takes 100+ ms at 2k), and the
file would no longer be what the service sent. Here every format only gains metadata:

- PNG: an ``iTXt`` chunk ``kirin`` (the JSON record; UTF-8, so any prompt survives) and an
  ``iTXt`` chunk ``parameters`` (A1111's human-readable text), put before the first
  ``IDAT`` so that Pillow's ``Image.open(p).info`` shows them without decoding;
- JPEG: an XMP packet in an APP1 segment after SOI (and after APP0/EXIF when present);
- WebP: an ``XMP `` chunk at the end of the RIFF container, with the XMP flag set in a
  ``VP8X`` header (added, with the canvas size, to a simple VP8/VP8L file).

The XMP packet holds the same JSON in ``kirin:record`` and the prompt in
``dc:description``, beside the marks photo tools and stock sites read: the IPTC
``DigitalSourceType`` (trainedAlgorithmicMedia: "made by a generative model", as the EU AI
Act's Article 50 and California's AI Transparency Act ask), the IPTC Credit Line
(``photoshop:Credit``: the model and the service), ``xmp:CreatorTool`` and, once a result
is rated, ``xmp:Rating``. A PNG carries that packet too (iTXt ``XML:com.adobe.xmp``, the
keyword every XMP reader looks for), without the record, which is in its ``kirin`` chunk.
A file that carries a C2PA manifest (``caBX`` in PNG, JUMBF in a JPEG APP11 segment, a
``C2PA`` WebP chunk) is never changed: splicing would break the service's signature, so
its record goes to a sidecar ``NAME.kirin.json`` (``write_sidecar``).

A new file is written next to the old one and renamed over it, so a
crash leaves either the old file or the new one, never half of one. The engine splices
every result after its download (tests/benchmark.py: about 1 % of the time a 10 MB file
takes to download at 100 Mbit/s). Pure stdlib.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from ..errors import ValidationError
from .record_schema import MAX_RECORD_CHARS, parse_record

KEYWORD = "kirin"  # the PNG text chunk with the JSON record
PARAMETERS = "parameters"  # A1111's human-readable chunk
XMP_KEYWORD = "XML:com.adobe.xmp"  # the PNG iTXt keyword XMP readers look for
XMP_NAMESPACE = "urn:kirin-jupyter:provenance:1"
IPTC_EXT_NAMESPACE = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SIDECAR_SUFFIX = ".kirin.json"
SIDECAR_LIMIT = 4_000_000  # bytes: a record is a few kB

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_TEXT_CHUNKS = (b"tEXt", b"iTXt", b"zTXt")
_JPEG_SEGMENT_MAX = 0xFFFF - 2  # payload bytes an APPn segment can hold

# A plan for the new file: pieces in order, each new bytes or a (start, end) slice of the
# old file, so the large part of the file (the pixels) is copied, never parsed or decoded.
Piece = bytes | tuple[int, int]


# -- writing -------------------------------------------------------------------------------

class SignedFile(ValidationError):
    """The file carries a C2PA manifest: it is never changed (its record goes beside it)."""


def embed(data: bytes, record: Mapping[str, Any], parameters: str | None = None, *,
          rating: int | None = None) -> bytes:
    """``data`` (a PNG, JPEG or WebP file) with ``record`` and the marks inside; pixels
    untouched. ``SignedFile`` for a file with a C2PA manifest."""
    pieces = _plan(memoryview(data), dict(record), parameters, rating)
    return b"".join(p if isinstance(p, bytes) else data[p[0]:p[1]] for p in pieces)


def stamp_file(path: Path, record: Mapping[str, Any], parameters: str | None = None, *,
               rating: int | None = None) -> None:
    """Put ``record`` inside the image file at ``path``: a new file in the same folder,
    renamed over the old one (a crash never leaves half a file).

    The old file is mapped, not read: only its headers are parsed, and the pixel data is
    copied by the kernel (``copy_file_range``)."""
    with path.open("rb") as src:
        facts = os.fstat(src.fileno())
        if facts.st_size == 0:
            raise ValidationError(f"{path.name} is empty")
        with mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                pieces = _plan(view, dict(record), parameters, rating)
            finally:
                view.release()
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                        suffix=".part")
            try:
                try:
                    os.fchmod(fd, facts.st_mode & 0o7777)  # mkstemp's 0600 -> the file's own
                    _write_pieces(fd, src.fileno(), mapped, pieces)
                finally:
                    os.close(fd)
                os.replace(temp, path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise


def _write_pieces(out: int, src: int, mapped: mmap.mmap, pieces: list[Piece]) -> None:
    """New bytes written; ranges of the old file copied inside the kernel when it can."""
    in_kernel = hasattr(os, "copy_file_range")
    for piece in pieces:
        if isinstance(piece, bytes):
            _write_all(out, piece)
            continue
        start, end = piece
        while in_kernel and start < end:
            try:
                copied = os.copy_file_range(src, out, end - start, start)
            except OSError:  # another file system, an old kernel: copy it here instead
                in_kernel = False
                break
            if copied == 0:
                raise ValidationError("the image file changed while it was being stamped")
            start += copied
        if start < end:
            _write_all(out, mapped[start:end])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _plan(data: memoryview, record: dict[str, Any], parameters: str | None,
          rating: int | None = None) -> list[Piece]:
    kind = image_kind(data)
    manifest = c2pa_manifest(data)
    if manifest:
        raise SignedFile(f"the file carries a C2PA manifest ({manifest}); it is left as "
                         "the service signed it")
    credit = credit_line(record)
    if kind == "png":  # UTF-8 iTXt: any prompt as typed; the marks as XMP beside it
        return _plan_png(data, json.dumps(record, ensure_ascii=False, separators=(",", ":")),
                         parameters, _xmp_packet(None, str(record.get("prompt") or ""),
                                                 credit, rating, record.get("provenance")))
    # XMP: ASCII JSON, so no character the XML cannot hold is ever in the record
    packet = _xmp_packet(json.dumps(record, ensure_ascii=True, separators=(",", ":")),
                         str(record.get("prompt") or ""), credit, rating,
                         record.get("provenance"))
    if kind == "jpeg":
        return _plan_jpeg(data, packet)
    if kind == "webp":
        return _plan_webp(data, packet)
    raise ValidationError("provenance is written to PNG, JPEG and WebP files only")


def image_kind(data: bytes | memoryview) -> str | None:
    head = bytes(data[:12])
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(payload, zlib.crc32(kind))))


def _itxt(keyword: str, text: str) -> bytes:
    """An uncompressed iTXt chunk: keyword, flags, empty language and translated keyword."""
    return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00"
                      + text.encode("utf-8"))


def _png_chunks(data: memoryview) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of the chunks up to and including the first IDAT (or IEND)."""
    chunks = []
    at = len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        end = at + 12 + length
        if end > len(data):
            raise ValidationError("the PNG file is cut off")
        chunks.append((kind, at, end))
        if kind in (b"IDAT", b"IEND"):
            return chunks
        at = end
    raise ValidationError("the PNG file has no image data")


def _plan_png(data: memoryview, text: str, parameters: str | None,
              packet: bytes) -> list[Piece]:
    """The new chunks go right before the first IDAT; any earlier ``kirin``,
    ``parameters`` or XMP chunk there is dropped, so a file stamped twice holds one
    record."""
    pieces: list[Piece] = []
    kept_from = 0
    chunks = _png_chunks(data)
    for kind, start, end in chunks[:-1]:
        if kind in _TEXT_CHUNKS and _text_keyword(data[start + 8:end - 4]) in (
                KEYWORD, PARAMETERS, XMP_KEYWORD):
            pieces.append((kept_from, start))
            kept_from = end
    first_idat = chunks[-1][1]
    pieces.append((kept_from, first_idat))
    pieces.append(_itxt(KEYWORD, text))
    if parameters:
        pieces.append(_itxt(PARAMETERS, parameters))
    pieces.append(_png_chunk(b"iTXt", XMP_KEYWORD.encode("latin-1") + b"\x00\x00\x00\x00\x00"
                             + packet))
    pieces.append((first_idat, len(data)))
    return pieces


def _text_keyword(payload: memoryview) -> str:
    end = bytes(payload[:80]).find(b"\x00")
    return bytes(payload[:end]).decode("latin-1") if end > 0 else ""


# XML 1.0 allows neither these characters (escaped or not) nor U+FFFE/U+FFFF: one of them
# in a prompt made the whole packet, record included, unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    """``text`` as XML character data: escaped by the standard library's serializer (the
    same one a parser undoes), with the characters XML cannot hold dropped."""
    return xml_escape(_NOT_XML.sub("", text))


def credit_line(record: Mapping[str, Any]) -> str:
    """The IPTC Credit Line: which model made the image, at which service."""
    model = str(record.get("model") or "an AI image model")
    service = record.get("service")
    return f"{model}, {service}" if service else model


def _xmp_packet(record_json: str | None, prompt: str, credit: str, rating: int | None,
                level: object) -> bytes:
    """The XMP packet: the marks, the record (as ASCII JSON, so any character survives)
    in ``kirin:record``, the prompt in ``dc:description``; all as escaped element text,
    so no prompt can add markup, or a second record, to the packet. No record and no
    prompt where they are left out (a PNG keeps its record in its own chunk; a minimal
    record has no prompt)."""
    from ..version import __version__

    lines = [f"   <Iptc4xmpExt:DigitalSourceType>{AI_GENERATED}</Iptc4xmpExt:DigitalSourceType>",
             f"   <photoshop:Credit>{_xml_text(credit)}</photoshop:Credit>",
             f"   <xmp:CreatorTool>kirin-jupyter {_xml_text(__version__)}</xmp:CreatorTool>"]
    if rating is not None:
        lines.append(f"   <xmp:Rating>{int(rating)}</xmp:Rating>")
    if isinstance(level, str):
        lines.append(f"   <kirin:provenance>{_xml_text(level)}</kirin:provenance>")
    if prompt:
        lines.append("   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">"
                     f"{_xml_text(prompt)}</rdf:li></rdf:Alt></dc:description>")
    if record_json is not None:
        lines.append(f"   <kirin:record>{_xml_text(record_json)}</kirin:record>")
    body = "\n".join(lines)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
        f'    xmlns:Iptc4xmpExt="{IPTC_EXT_NAMESPACE}"\n'
        f'    xmlns:kirin="{XMP_NAMESPACE}">\n'
        f"{body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def _jpeg_segments(data: memoryview) -> list[tuple[int, int, int]]:
    """(marker, start, end) of the APPn and COM segments that follow SOI."""
    segments = []
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            break
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        end = at + 2 + length
        if length < 2 or end > len(data):
            raise ValidationError("the JPEG file is cut off")
        segments.append((marker, at, end))
        at = end
    return segments


def _is_xmp_segment(data: memoryview, marker: int, start: int, end: int) -> bool:
    return marker == 0xE1 and bytes(data[start + 4:start + 4 + len(_XMP_HEADER)]) == _XMP_HEADER


def _plan_jpeg(data: memoryview, packet: bytes) -> list[Piece]:
    """APP1 XMP after SOI and the APP0 (JFIF) / APP1 (EXIF) that must come first; an
    earlier XMP segment is replaced."""
    payload = _XMP_HEADER + packet
    if len(payload) > _JPEG_SEGMENT_MAX:
        raise ValidationError("the record is too long for one JPEG XMP segment (64 KB)")
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    segments = _jpeg_segments(data)
    insert_at = 2
    for marker, _start, end in segments:
        if marker == 0xE0 or (marker == 0xE1 and not _is_xmp_segment(data, marker, _start, end)):
            insert_at = end
        else:
            break
    pieces: list[Piece] = [(0, insert_at), segment]
    kept_from = insert_at
    for marker, start, end in segments:
        if start >= insert_at and _is_xmp_segment(data, marker, start, end):
            pieces.append((kept_from, start))
            kept_from = end
    pieces.append((kept_from, len(data)))
    return pieces


def _webp_chunks(data: memoryview) -> list[tuple[bytes, int, int]]:
    """(FourCC, start, end) of every chunk, ``end`` past the pad byte."""
    chunks = []
    at = 12
    riff_end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    while at + 8 <= riff_end:
        kind = bytes(data[at:at + 4])
        (size,) = struct.unpack("<I", data[at + 4:at + 8])
        end = at + 8 + size + (size & 1)
        if at + 8 + size > len(data):
            raise ValidationError("the WebP file is cut off")
        chunks.append((kind, at, min(end, len(data))))
        at = end
    if not chunks:
        raise ValidationError("the WebP file has no chunks")
    return chunks


def _webp_canvas(data: memoryview, kind: bytes, start: int) -> tuple[int, int, bool]:
    """Width, height and alpha of a simple (VP8 or VP8L) WebP, from its bitstream header."""
    body = bytes(data[start + 8:start + 8 + 10])
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF, False
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise ValidationError("the WebP image header cannot be read")


def _plan_webp(data: memoryview, packet: bytes) -> list[Piece]:
    """An ``XMP `` chunk last; the XMP flag set in VP8X (a VP8X chunk with the canvas size
    put first in a simple file); the RIFF size made to match."""
    chunks = _webp_chunks(data)
    first_kind, first_start, first_end = chunks[0]
    xmp = b"XMP " + struct.pack("<I", len(packet)) + packet + (b"\x00" if len(packet) & 1 else b"")
    if first_kind == b"VP8X":
        header = bytearray(data[first_start:first_end])
        header[8] |= 0x04  # the XMP flag
        vp8x = bytes(header)
    else:
        width, height, alpha = _webp_canvas(data, first_kind, first_start)
        flags = 0x04 | (0x10 if alpha else 0)
        vp8x = (b"VP8X" + struct.pack("<I", 10) + bytes([flags, 0, 0, 0])
                + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))
        first_end = first_start  # nothing replaced: VP8X goes before the image chunk
    body: list[Piece] = [vp8x]
    kept_from = first_end
    for kind, start, end in chunks[1:]:
        if kind == b"XMP ":
            body.append((kept_from, start))
            kept_from = end
    last_end = chunks[-1][2]
    body.append((kept_from, last_end))
    body.append(xmp)
    size = 4 + sum(len(p) if isinstance(p, bytes) else p[1] - p[0] for p in body)
    return [b"RIFF" + struct.pack("<I", size) + b"WEBP", *body]


# -- a signed file: never changed, its record beside it -------------------------------------

def c2pa_manifest(data: bytes | memoryview) -> str | None:
    """Where a C2PA manifest sits in image bytes (``"PNG caBX chunk"``, ...), or None.

    Presence only: it is not verified (``c2pa_signer`` does that where the optional
    ``c2pa-python`` is installed). A file that cannot be walked is said to have none."""
    view = memoryview(data)
    try:
        kind = image_kind(view)
        if kind == "png":
            at = len(_PNG_SIGNATURE)
            while at + 8 <= len(view):
                length, chunk = struct.unpack(">I4s", view[at:at + 8])
                if chunk == b"caBX":
                    return "PNG caBX chunk"
                if chunk == b"IEND":
                    break
                at += 12 + length
        elif kind == "jpeg":
            for marker, start, end in _jpeg_segments(view):
                payload = bytes(view[start + 4:min(end, start + 4 + 64)])
                if marker == 0xEB and payload[:2] == b"JP" and b"jumb" in payload:
                    return "JPEG APP11 JUMBF segment"
        elif kind == "webp" and any(chunk == b"C2PA" for chunk, _s, _e in _webp_chunks(view)):
            return "WebP C2PA chunk"
    except (ValidationError, struct.error):
        return None
    return None


def sidecar_path(path: Path) -> Path:
    """``NAME.kirin.json`` beside ``NAME.png``: where a signed file's record goes."""
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def write_sidecar(path: Path, record: Mapping[str, Any], manifest: str) -> Path:
    """The record of ``path`` (left unchanged) in a JSON file beside it, with the file's
    SHA-256, so the sidecar of another file is never taken for this one's."""
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    where = sidecar_path(path)
    body = {"kirin_sidecar": 1, "file": path.name, "sha256": digest, "c2pa": manifest,
            "record": dict(record)}
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{where.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, ensure_ascii=False, indent=1)
        os.replace(temp, where)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return where


def read_sidecar(path: Path, data: bytes) -> dict[str, Any] | None:
    """The record in ``path``'s sidecar when there is one written for exactly these bytes;
    None when there is none. ``DamagedRecord`` for one that cannot be used."""
    import hashlib

    from ..base.user_files import read_user_file
    from .record_schema import DamagedRecord

    where = sidecar_path(path)
    if not where.is_file():
        return None
    raw = read_user_file(where, SIDECAR_LIMIT, "sidecar")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise DamagedRecord(f"{where.name} is damaged: it is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("record"), dict):
        raise DamagedRecord(f"{where.name} is damaged: it holds no record object")
    if body.get("sha256") != hashlib.sha256(data).hexdigest():
        return None  # written for other bytes: not this file's record
    record = parse_record(json.dumps(body["record"]))
    record["stored_in"] = "sidecar"
    if isinstance(body.get("c2pa"), str):
        record["c2pa"] = body["c2pa"]
    return record


def strip_record(data: bytes) -> bytes:
    """``data`` without what ``embed`` put in (the ``kirin``, ``parameters`` and XMP text
    chunks of a PNG, the XMP segment of a JPEG, the XMP chunk of a WebP): for an export
    at provenance ``off``. Pixels, and every other chunk, untouched; a signed file, or
    bytes that are no image, come back as they are."""
    view = memoryview(data)
    kind = image_kind(view)
    if kind is None or c2pa_manifest(view):
        return data
    pieces: list[Piece] = []
    kept_from = 0
    if kind == "png":
        at = len(_PNG_SIGNATURE)
        while at + 8 <= len(view):
            length, chunk = struct.unpack(">I4s", view[at:at + 8])
            end = at + 12 + length
            if chunk in _TEXT_CHUNKS and _text_keyword(view[at + 8:end - 4]) in (
                    KEYWORD, PARAMETERS, XMP_KEYWORD):
                pieces.append((kept_from, at))
                kept_from = end
            if chunk == b"IEND":
                break
            at = end
    elif kind == "jpeg":
        for marker, start, end in _jpeg_segments(view):
            if _is_xmp_segment(view, marker, start, end):
                pieces.append((kept_from, start))
                kept_from = end
    else:
        return _strip_webp(view, data)
    pieces.append((kept_from, len(data)))
    return b"".join(p if isinstance(p, bytes) else data[p[0]:p[1]] for p in pieces)


def _strip_webp(view: memoryview, data: bytes) -> bytes:
    chunks = _webp_chunks(view)
    body = []
    for kind, start, end in chunks:
        if kind == b"XMP ":
            continue
        piece = bytearray(data[start:end])
        if kind == b"VP8X":
            piece[8] &= ~0x04 & 0xFF  # no XMP any more
        body.append(bytes(piece))
    joined = b"".join(body)
    return b"RIFF" + struct.pack("<I", 4 + len(joined)) + b"WEBP" + joined


def at_level_bytes(data: bytes, level: str, minimal: Mapping[str, Any] | None,
                   rating: int | None = None) -> bytes:
    """The file's bytes as an export at ``level`` gives them: as they are (``full``),
    with the ``minimal`` record (and ``rating``) in place of the full one, or with none
    (``off``)."""
    if level == "full" or c2pa_manifest(data):
        return data
    if level == "off" or minimal is None:
        return strip_record(data)
    return embed(strip_record(data), minimal, rating=rating)


# -- ratings -------------------------------------------------------------------------------

def rate_file(path: Path, rating: int | None) -> bool:
    """Write ``xmp:Rating`` into a file that carries our record (its record and
    ``parameters`` kept); False, and the file untouched, for one that has none (saved
    with provenance off, not ours) or that is signed."""
    from ..base.user_files import read_user_file

    data = read_user_file(path, RECORD_FILE_LIMIT, "result file")
    if c2pa_manifest(data):
        return False
    try:
        record = read_record(data)
    except ValidationError:
        return False
    if record is None:
        return False
    parameters = None
    if image_kind(data) == "png":
        try:
            parameters = _png_text(memoryview(data), PARAMETERS)
        except (ValueError, struct.error, zlib.error):
            parameters = None
    stamp_file(path, record, parameters, rating=rating)
    return True


# -- reading -------------------------------------------------------------------------------

def read_record(data: bytes | memoryview) -> dict[str, Any] | None:
    """The record inside image bytes, checked (``record_schema``); None when there is none
    (or they are no image). ``DamagedRecord`` (one line) when there is one that cannot be
    used: not JSON, nested too deep, or a field of the wrong type."""
    view = memoryview(data)
    try:
        kind = image_kind(view)
        if kind == "png":
            text = _png_text(view, KEYWORD)
        elif kind in ("jpeg", "webp"):
            packet = _jpeg_xmp(view) if kind == "jpeg" else _webp_xmp(view)
            text = _record_in_xmp(packet) if packet is not None else None
        else:
            return None
    except (ValidationError, ValueError, struct.error, zlib.error, MemoryError):
        return None
    return None if text is None else parse_record(text)


def _png_text(data: memoryview, keyword: str) -> str | None:
    """Every chunk is walked (text may come after the pixels); tEXt, zTXt and iTXt read."""
    at = len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        payload = data[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"IEND":
            break
        if kind not in _TEXT_CHUNKS or _text_keyword(payload) != keyword:
            continue
        rest = bytes(payload[len(keyword) + 1:])
        if kind == b"tEXt":
            return rest.decode("latin-1")
        if kind == b"zTXt":
            return _inflate(rest[1:]).decode("latin-1")
        compressed = rest[0] == 1
        _lang, _, rest = rest[2:].partition(b"\x00")
        _translated, _, text = rest.partition(b"\x00")
        return (_inflate(text) if compressed else text).decode("utf-8")
    return None


def _inflate(data: bytes) -> bytes:
    """A compressed text chunk, inflated to at most 4 bytes a record character: a
    crafted chunk of a few kB could otherwise inflate to gigabytes."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, 4 * MAX_RECORD_CHARS)
    if inflater.unconsumed_tail:
        raise ValueError("a compressed text chunk inflates past any record's size")
    return out


def _jpeg_xmp(data: memoryview) -> bytes | None:
    for marker, start, end in _jpeg_segments(data):
        if _is_xmp_segment(data, marker, start, end):
            return bytes(data[start + 4 + len(_XMP_HEADER):end])
    return None


def _webp_xmp(data: memoryview) -> bytes | None:
    for kind, start, _end in _webp_chunks(data):
        if kind == b"XMP ":
            (size,) = struct.unpack("<I", data[start + 4:start + 8])
            return bytes(data[start + 8:start + 8 + size])
    return None


_XMP_RECORD_TAG = f"{{{XMP_NAMESPACE}}}record"


def _record_in_xmp(packet: bytes) -> str | None:
    """The record's JSON in an XMP packet, read by the standard library's XML parser with
    no DTD at all (so no entity can expand): the element ``kirin:record`` in our
    namespace, never text that merely looks like it. A packet that does not parse holds
    no record."""
    import xml.etree.ElementTree as ET

    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        return None  # XMP has no DTD: one here is an attack (entity expansion)
    start, end = packet.find(b"<x:xmpmeta"), packet.rfind(b"</x:xmpmeta>")
    body = packet[start:end + len(b"</x:xmpmeta>")] if 0 <= start < end else packet
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    found = root.find(f".//{_XMP_RECORD_TAG}")
    if found is not None:
        return found.text or ""
    for element in root.iter():  # the attribute form: kirin:record="..."
        if _XMP_RECORD_TAG in element.attrib:
            return element.attrib[_XMP_RECORD_TAG]
    return None


RECORD_FILE_LIMIT = 64_000_000  # as Limits.result_bytes: a 2k PNG is under 20 MB


def provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The generation record of a saved result file (PNG, JPEG or WebP): inside it, or
    in its sidecar ``NAME.kirin.json`` when the file is signed (C2PA) and was left as it
    was. ``record["provenance"]`` says which level it carries (``full`` or ``minimal``),
    ``record["stored_in"]`` where (``file`` or ``sidecar``).

    Raises ``ValidationError`` (one line) for a missing file, a path that is no regular
    file (a pipe, a device, a link to one), a file too large to be a result, a file that
    is not one of those images, an image without a record, or a damaged record."""
    from ..base.user_files import read_user_file

    where = Path(path)
    data = read_user_file(where, RECORD_FILE_LIMIT, "result file")
    if image_kind(data) is None:
        raise ValidationError(f"{where.name} is not a PNG, JPEG or WebP image, so it holds no "
                              "kirin record")
    record = read_record(data)
    if record is None:
        record = read_sidecar(where, data)
    if record is None:
        raise ValidationError(f"{where.name} holds no kirin record (saved with provenance "
                              "off, not saved by kirin-jupyter, or its metadata was stripped)")
    record.setdefault("provenance", "full")  # records written before the levels
    record.setdefault("stored_in", "file")
    return record
