"""Printing benchmark results as the markdown tables docs/results.md quotes."""

from __future__ import annotations


def markdown_table(columns: list[str], rows: list[list[object]]) -> str:
    """A table with the first column left-aligned and the rest right-aligned."""
    lines = ["| " + " | ".join(columns) + " |", "|---" + "|---:" * (len(columns) - 1) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])
