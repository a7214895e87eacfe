"""Real pictures and videos made by the tests: Pillow writes JPEG, PNG, WebP and GIF,
pillow-heif writes HEIC, ffmpeg (when installed) writes an MP4, and a PNG bomb is written
row by row through zlib so the test never holds its 1.2 GB of pixels."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pillow_heif
from PIL import Image

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 200, 0)

pillow_heif.register_heif_opener()


def halves(width: int = 400, height: int = 200) -> Image.Image:
    """Left half red, right half blue (as stored, before any orientation)."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    return image


def jpeg(
    image: Image.Image | None = None,
    *,
    orientation: int | None = None,
    taken: str | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    quality: int = 90,
) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    details = exif.get_ifd(0x8769)
    if taken is not None:
        details[0x9003] = taken
    if offset is not None:
        details[0x9011] = offset
    if gps is not None:
        latitude, longitude = gps
        place = exif.get_ifd(0x8825)
        place[1] = "N" if latitude >= 0 else "S"
        place[2] = _dms(abs(latitude))
        place[3] = "E" if longitude >= 0 else "W"
        place[4] = _dms(abs(longitude))
    out = io.BytesIO()
    (image or halves()).save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def encoded(image: Image.Image, format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **options)
    return out.getvalue()


def heic(image: Image.Image | None = None) -> bytes:
    return encoded(image or halves(), "HEIF", quality=90)


def noisy(width: int, height: int) -> Image.Image:
    """A picture with detail everywhere (a fractal), compressing like a photo does."""
    return Image.effect_mandelbrot((width, height), (-2.2, -1.2, 1.0, 1.2), 64).convert("RGB")


def png_bomb(path: Path, width: int = 20_000, height: int = 20_000) -> Path:
    """A valid black-and-white PNG of `width` × `height` pixels, a few hundred kB on disk
    (one bit per pixel keeps writing it quick; decoded, Pillow would hold a byte each)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def mp4(path: Path, colour: str = "green", seconds: int = 2) -> Path:
    """A small H.264 (or MPEG-4) video of one colour, made by ffmpeg."""
    program = ffmpeg()
    assert program is not None
    for codec in ("libx264", "mpeg4"):
        done = subprocess.run(
            [
                program, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                "-i", f"color=c={colour}:s=320x240:d={seconds}", "-c:v", codec,
                "-pix_fmt", "yuv420p", str(path),
            ],
            capture_output=True,
            check=False,
        )  # fmt: skip
        if done.returncode == 0:
            return path
    raise AssertionError(f"ffmpeg could not write a video: {done.stderr.decode()}")


def colour_at(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    pixel = image.convert("RGB").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def near(actual: tuple[int, int, int], expected: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(a - e) <= slack for a, e in zip(actual, expected, strict=True))
