"""Process metrics in the Prometheus text format: requests by area/method/status, and
their durations. Low cardinality on purpose: the area is the first path segment."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_KNOWN_AREAS = frozenset(
    {"data", "files", "dav", "auth", "apps", "jobs", "settings", "status", "metrics", "permissions"}
)


def area_of(path: str) -> str:
    first = path.strip("/").split("/", 1)[0]
    if not first:
        return "root"
    return first if first in _KNOWN_AREAS else "other"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._bucket_counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def observe(self, path: str, method: str, status: int, seconds: float) -> None:
        area = area_of(path)
        with self._lock:
            self._requests[(area, method, str(status))] += 1
            index = bisect.bisect_left(BUCKETS, seconds)
            buckets = self._bucket_counts[area]
            for position in range(index, len(BUCKETS)):
                buckets[position] += 1
            self._sums[area] += seconds
            self._counts[area] += 1

    def render(self, extra: dict[str, float] | None = None) -> str:
        lines = [
            "# HELP roost_http_requests_total HTTP requests served, by area, method and status.",
            "# TYPE roost_http_requests_total counter",
        ]
        with self._lock:
            for (area, method, status), count in sorted(self._requests.items()):
                lines.append(
                    f'roost_http_requests_total{{area="{area}",method="{method}",'
                    f'status="{status}"}} {count}'
                )
            lines += [
                "# HELP roost_http_request_duration_seconds Time to answer, by area.",
                "# TYPE roost_http_request_duration_seconds histogram",
            ]
            for area in sorted(self._counts):
                for bound, count in zip(BUCKETS, self._bucket_counts[area], strict=True):
                    lines.append(
                        f'roost_http_request_duration_seconds_bucket{{area="{area}",le="{bound}"}}'
                        f" {count}"
                    )
                lines.append(
                    f'roost_http_request_duration_seconds_bucket{{area="{area}",le="+Inf"}} '
                    f"{self._counts[area]}"
                )
                lines.append(
                    f'roost_http_request_duration_seconds_sum{{area="{area}"}} {self._sums[area]}'
                )
                lines.append(
                    f'roost_http_request_duration_seconds_count{{area="{area}"}} '
                    f"{self._counts[area]}"
                )
        for name, value in sorted((extra or {}).items()):
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name} {value}")
        return "\n".join(lines) + "\n"
