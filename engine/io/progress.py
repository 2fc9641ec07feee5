"""Progress for long work: library functions report (done, total); the CLI shows a tqdm bar."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

Progress = Callable[[int, int], None]


@contextlib.contextmanager
def progress_bar(desc: str, unit: str = "clip") -> Iterator[Progress]:
    """Yield a `Progress` callback drawing a tqdm bar, created on the first report so that an
    early error prints alone."""
    from tqdm import tqdm

    bars: list[tqdm] = []

    def report(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit=unit, desc=desc))
        bars[0].total = total
        bars[0].update(done - bars[0].n)

    try:
        yield report
    finally:
        for bar in bars:
            bar.close()
