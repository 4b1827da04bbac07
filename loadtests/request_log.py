"""One CSV row per request, written as each completes (line-buffered, so a run stopped hard
keeps what it had). The summaries are computed from it: exact percentiles, outcomes, the
fallbacks in each answer's headers, and the time of each, to line up with the soak's faults."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Row:
    t: float  # epoch seconds when the answer was complete
    entry: str  # the mix entry's name
    status: int  # 0: no answer
    outcome: str  # outcomes.Outcome
    ms: float  # request start to the last byte
    ttfb_ms: float  # to the response's headers
    model: str  # x-modelyard-model: the server that answered
    intent: str  # x-modelyard-intent
    language: str  # x-modelyard-language
    tried: str  # x-modelyard-tried
    degraded: str  # x-modelyard-degraded
    detail: str  # why, when not ok


COLUMNS = [f.name for f in fields(Row)]


class RequestLog:
    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", newline="", encoding="utf-8", buffering=1)
        self._writer = csv.DictWriter(self._file, COLUMNS)
        self._writer.writeheader()

    def write(self, row: Row) -> None:
        self._writer.writerow(asdict(row))

    def close(self) -> None:
        self._file.close()


def read(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as file:
        return [
            Row(
                t=float(r["t"]),
                entry=r["entry"],
                status=int(r["status"]),
                outcome=r["outcome"],
                ms=float(r["ms"]),
                ttfb_ms=float(r["ttfb_ms"]),
                model=r["model"],
                intent=r["intent"],
                language=r["language"],
                tried=r["tried"],
                degraded=r["degraded"],
                detail=r["detail"],
            )
            for r in csv.DictReader(file)
        ]
