"""The bounds of a thumbnail worker, measured in a process of its own: decompression
bombs and oversized pictures are refused from their header with the memory of a small
process, and a decoder past its address-space limit fails cleanly instead of growing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.thumbnails.pictures import encoded, halves, jpeg, png_bomb

# What one worker process may reach while refusing a bomb: Python, Pillow and libheif
# loaded (≈ 60 MB here) plus slack; decoding the bomb would take 1.2 GB.
PEAK_RSS_BOUND = 200 * 1024 * 1024

_PROBE = """
import json, sys
from roost.thumbnails.render import RenderError, configure_worker, peak_rss, render_image
configure_worker(memory_bytes=int(sys.argv[1]))
results = {}
for source in sys.argv[3:]:
    try:
        rendered = render_image(source, {"small": (sys.argv[2] + "/out.jpg", 320)})
        results[source] = {"sizes": rendered.sizes}
    except RenderError as error:
        results[source] = {"error": str(error)}
print(json.dumps({"results": results, "peak_rss": peak_rss()}))
"""


def probe(memory_bytes: int, out: Path, *sources: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(memory_bytes), str(out), *map(str, sources)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # no crash, whatever the input
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_bombs_are_refused_with_a_small_peak_rss(tmp_path: Path) -> None:
    bomb = png_bomb(tmp_path / "bomb.png")  # 400 Mpx: past Pillow's bomb check
    wide = png_bomb(tmp_path / "wide.png", 10_000, 8_000)  # 80 Mpx: past Roost's decode limit
    fine = tmp_path / "fine.jpg"
    fine.write_bytes(jpeg())

    measured = probe(1536 * 1024 * 1024, tmp_path, bomb, wide, fine)

    results = measured["results"]
    assert isinstance(results, dict)
    assert "250 megapixels" in results[str(bomb)]["error"]
    assert "10000 × 8000" in results[str(wide)]["error"]
    assert results[str(fine)] == {"sizes": {"small": [320, 160]}}
    peak = measured["peak_rss"]
    assert isinstance(peak, int) and peak < PEAK_RSS_BOUND, peak


def test_a_picture_past_the_memory_limit_fails_cleanly(tmp_path: Path) -> None:
    # 7,000 × 7,000 = 49 Mpx is within the pixel limits, but its 147 MB of pixels do not
    # fit a worker given 256 MB of address space: the decoder's allocation fails and the
    # worker answers with an error instead of growing or dying.
    big = tmp_path / "big.png"
    big.write_bytes(encoded(halves(7_000, 7_000), "PNG", compress_level=1))

    measured = probe(256 * 1024 * 1024, tmp_path, big)

    results = measured["results"]
    assert isinstance(results, dict)
    assert "memory" in results[str(big)]["error"]
    peak = measured["peak_rss"]
    assert isinstance(peak, int) and peak < 256 * 1024 * 1024
