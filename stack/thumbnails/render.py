"""Decoding a picture (or a video's first frames) safely and writing its thumbnails.

Everything here blocks and burns CPU, so it runs in the worker processes of
`roost.thumbnails.pool`, never on the event loop; it imports nothing of the stack so a
worker starts fast. A worker is bounded three ways: an address-space limit (RLIMIT_AS) set
once when it starts, a CPU-time limit set before each picture (RLIMIT_CPU: the kernel stops
a decoder that never ends), and the dimensions checked from the file's header *before*
any pixel is decoded, so a decompression bomb (a 20,000 × 20,000 PNG of a few hundred
kilobytes) is refused without allocating its 1.2 GB. JPEGs are decoded at 1/2, 1/4 or 1/8
scale when that still covers the largest thumbnail (`Image.draft`, done by libjpeg itself),
which is what makes a 12-megapixel photo cheap.

Failures are `RenderError` with a sentence saying why; nothing else is meant to escape.

Pillow is imported by the functions that use it, not by this module: the server imports
this module only to name its functions to the workers, and a box that shows no picture
keeps Pillow's 3 MB out of the server.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from roost.thumbnails.metadata import read_metadata
from roost.thumbnails.sizes import JPEG_QUALITY

if TYPE_CHECKING:
    from PIL import Image

# A JPEG may be this large (it is decoded at a reduced scale); Pillow's own bomb check is
# set to it too, with its warning turned into an error.
MAX_SOURCE_PIXELS: Final = 250_000_000
# What is really decoded into memory: 64 Mpx is 192 MB in RGB, and covers a 48 Mpx phone
# photo decoded at full size (HEIC, PNG and WebP have no reduced-scale decoding).
MAX_DECODED_PIXELS: Final = 64_000_000
_FFMPEG_ERROR_CHARS: Final = 200

# name → (output path, box): the thumbnails to write, each fitting in a `box`-pixel square.
Targets = Mapping[str, tuple[str, int]]


class RenderError(Exception):
    """This file cannot be made into thumbnails; the message says why, in one sentence."""


@dataclass(frozen=True)
class Rendered:
    sizes: dict[str, tuple[int, int]]  # name → (width, height) written
    metadata: dict[str, Any] | None  # EXIF metadata (images only, when asked)
    peak_rss_bytes: int  # of the worker process so far: the bound the tests watch
    cpu_seconds: float = 0.0  # spent on this file by the worker (load-independent cost)


def configure_worker(memory_bytes: int | None = None, niceness: int = 0) -> None:
    """Set up a worker process (the pool's initializer): limits, Pillow's policies, HEIF."""
    if memory_bytes:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    if niceness:
        # Thumbnails are background work: requests keep the CPU when both want it.
        with contextlib.suppress(OSError):
            os.nice(niceness)
    from PIL import Image, ImageFile

    Image.MAX_IMAGE_PIXELS = MAX_SOURCE_PIXELS
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    # A photo cut short (an interrupted copy) still shows its top part, greyed below.
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    import pillow_heif

    pillow_heif.register_heif_opener()
    # One decoding thread: the pool already runs one picture per core.
    pillow_heif.options.DECODE_THREADS = 1


def limit_cpu(seconds: int) -> None:
    """Allow `seconds` more CPU seconds to this process (SIGXCPU ends it past that)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + seconds + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def peak_rss() -> int:
    """This process's peak resident memory, in bytes.

    From /proc's VmHWM, which belongs to the current program: `ru_maxrss` survives exec on
    Linux, so a worker started by a big process would report its parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux counts KiB


def _cpu_time() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fit(width: int, height: int, box: int) -> tuple[int, int]:
    scale = min(box / width, box / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _too_large(width: int, height: int) -> RenderError:
    return RenderError(
        f"the picture is {width} × {height} pixels, more than Roost decodes "
        f"({MAX_DECODED_PIXELS // 1_000_000} megapixels)"
    )


def _open(source: str) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RenderError(
            f"the picture has more than {MAX_SOURCE_PIXELS // 1_000_000} megapixels"
        ) from None
    except UnidentifiedImageError:
        raise RenderError("the file is not a picture Roost can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise RenderError(f"the picture cannot be read: {error}") from None


def _decode(image: Image.Image, box: int) -> Image.Image:
    """Load the pixels, at a reduced scale when the format allows, within the limits."""
    from PIL import Image

    width, height = image.size
    if width <= 0 or height <= 0:
        raise RenderError("the picture has no pixels")
    if width * height > MAX_SOURCE_PIXELS:
        raise _too_large(width, height)
    if image.format == "JPEG":
        image.draft("RGB", _fit(width, height, box))
    decoded_width, decoded_height = image.size
    if decoded_width * decoded_height > MAX_DECODED_PIXELS:
        raise _too_large(width, height)
    try:
        image.load()
    except MemoryError:
        raise RenderError("the picture needs more memory than a thumbnail may use") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as error:
        raise RenderError(f"the picture cannot be decoded: {error}") from None
    if image.mode in ("P", "PA", "1"):
        transparent = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        image = _as_rgb(image)  # 16-bit, float…: resampling may not take them as they are
    return image


def _as_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        from PIL import Image

        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit and float pixels: scale to 8 bits rather than clip everything to white.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def _write_jpeg(image: Image.Image, path: str, icc_profile: bytes | None) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside then renamed: a reader never sees half a thumbnail.
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".part-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as out:
            options: dict[str, Any] = {"quality": JPEG_QUALITY}
            if icc_profile:
                options["icc_profile"] = icc_profile
            image.save(out, "JPEG", **options)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def render_image(
    source: str, targets: Targets, *, cpu_seconds: int = 30, want_metadata: bool = False
) -> Rendered:
    """Write the thumbnails of the picture at `source` (largest first, each from the last)."""
    from PIL import Image, ImageOps

    if not targets:
        raise ValueError("no thumbnail asked for")
    limit_cpu(cpu_seconds)
    started = _cpu_time()
    ordered = sorted(targets.items(), key=lambda item: -item[1][1])
    with _open(source) as opened:
        metadata = read_metadata(opened) if want_metadata else None
        icc_profile = opened.info.get("icc_profile")
        image = _decode(opened, ordered[0][1][1])
        try:
            sizes: dict[str, tuple[int, int]] = {}
            transposed = False
            for name, (path, box) in ordered:
                # The first step shrinks a big decoded picture: Pillow's bilinear filter
                # (area-weighted when shrinking) costs half a bicubic there, with no
                # visible difference at thumbnail sizes; later steps are small.
                first = not sizes
                resample = Image.Resampling.BILINEAR if first else Image.Resampling.BICUBIC
                image.thumbnail((box, box), resample, reducing_gap=2.0)
                if not transposed:
                    # After the first reduction, so the turn moves thumbnail pixels only.
                    image = ImageOps.exif_transpose(image)
                    image = _as_rgb(image)
                    transposed = True
                _write_jpeg(image, path, icc_profile if isinstance(icc_profile, bytes) else None)
                sizes[name] = image.size
        except MemoryError:
            raise RenderError("the picture needs more memory than a thumbnail may use") from None
        except (OSError, ValueError) as error:
            raise RenderError(f"the thumbnail cannot be made: {error}") from None
    return Rendered(sizes, metadata, peak_rss(), _cpu_time() - started)


def _video_limits(memory_bytes: int | None, cpu_seconds: int) -> None:
    # Runs in the forked ffmpeg child before exec: the same bounds as a picture.
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def _poster_scale(box: int) -> str:
    # Fit in the box, never enlarged (the quotes keep the commas out of the filter syntax).
    return (
        f"scale=w='min(iw,{box})':h='min(ih,{box})'"
        ":force_original_aspect_ratio=decrease:force_divisible_by=2"
    )


def render_video(
    source: str,
    targets: Targets,
    *,
    ffmpeg: str,
    timeout_seconds: float = 30.0,
    cpu_seconds: int = 30,
    memory_bytes: int | None = None,
) -> Rendered:
    """A poster frame (one second in, or the first frame of a shorter video) by ffmpeg,
    then thumbnails of it like a picture's."""
    box = max(box for _, box in targets.values())
    folder = Path(next(iter(targets.values()))[0]).parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".video-") as scratch:
        frame = Path(scratch) / "frame.jpg"
        error = "no picture could be read from this video"
        for seek in ("1", "0"):
            command = [
                ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
                "-ss", seek, "-i", source, "-frames:v", "1", "-an", "-sn",
                "-vf", _poster_scale(box),
                "-q:v", "3", "-update", "1", "-y", str(frame),
            ]  # fmt: skip
            try:
                done = subprocess.run(  # noqa: S603 - a fixed program, no shell
                    command,
                    capture_output=True,
                    timeout=timeout_seconds,
                    check=False,
                    preexec_fn=lambda: _video_limits(memory_bytes, cpu_seconds),
                )
            except subprocess.TimeoutExpired:
                raise RenderError(f"ffmpeg took more than {timeout_seconds:g} s") from None
            if frame.is_file() and frame.stat().st_size > 0:
                return render_image(str(frame), targets, cpu_seconds=cpu_seconds)
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            if message:
                error = f"ffmpeg could not read this video: {message[-1][:_FFMPEG_ERROR_CHARS]}"
    raise RenderError(error)


def read_file_metadata(source: str) -> dict[str, Any]:
    """The EXIF metadata of the picture at `source`, reading its header only."""
    with _open(source) as opened:
        return read_metadata(opened)
