"""What the page tests share: whether a docs page holds a rendered table, and an edited copy of
a table row, so each test can show that its check fails when one number is typed over.

Page tests whose script needs one package live in that package's tests; those whose scripts
need several (the benchmarks of mri-seg that score with mri-bench, the headline page) live
here, where every package is installed."""

from __future__ import annotations

import re


def blocks(rendered: str) -> list[str]:
    """The tables of a render: pages put prose between them, so each must appear whole."""
    return [block.strip() for block in rendered.strip().split("\n\n")]


def holds(page: str, table: str) -> bool:
    """Whether ``table`` is in ``page`` as whole lines (not the tail of a longer line)."""
    return f"\n{table}\n" in f"\n{page}\n"


def edited(row: str) -> str:
    """``row`` with the first digit after its first cell changed, as a hand edit of one figure
    would change it (the first cell names the row: a case, a model, a setting)."""
    name, separator, figures = row.lstrip("|").partition("|")
    changed = re.sub(r"\d", lambda m: str((int(m[0]) + 1) % 10), figures, count=1)
    assert separator, row
    assert changed != figures, row
    return f"|{name}|{changed}"


def assert_holds_only_the_render(page: str, table: str) -> None:
    """``page`` holds ``table``, and would not with one figure of its last row typed over."""
    assert holds(page, table), table.splitlines()[0]
    row = table.splitlines()[-1]
    assert not holds(page.replace(row, edited(row)), table)
