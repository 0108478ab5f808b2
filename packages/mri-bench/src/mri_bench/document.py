"""A report as a list of blocks, rendered to Markdown and to standalone HTML.

Both renderings come from the same blocks, so the Markdown a reviewer reads on GitHub and the
HTML page someone opens from a CI artifact always say the same thing. The Markdown links its
figures (PNG files beside it); the HTML carries them inside as data URIs, so the one file can
be mailed, attached or opened from a downloaded artifact and still shows every figure.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

Block = tuple[str, object]
TableContent = tuple[list[str], list[list[str]]]


@dataclass
class Document:
    """Headings, paragraphs, bullet lists, tables and images, in order."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("heading", text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("paragraph", text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("bullets", items))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("table", (header, rows)))

    def image(self, path: str, caption: str) -> None:
        self.blocks.append(("image", (path, caption)))

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for kind, content in self.blocks:
            if kind == "heading":
                lines += [f"## {content}", ""]
            elif kind == "paragraph":
                lines += [str(content), ""]
            elif kind == "bullets":
                assert isinstance(content, list)
                lines += [f"- {item}" for item in content] + [""]
            elif kind == "table":
                header, rows = cast(TableContent, content)
                lines.append("| " + " | ".join(header) + " |")
                lines.append("|" + "---|" * len(header))
                lines += ["| " + " | ".join(row) + " |" for row in rows]
                lines.append("")
            else:
                path, caption = cast(tuple[str, str], content)
                lines += [f"![{caption}]({path})", ""]
        return "\n".join(lines)

    def html(self, folder: Path) -> str:
        """The standalone page; image paths are read relative to ``folder`` and embedded."""
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:80em;margin:auto}"
            "table{border-collapse:collapse;font-size:90%}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
            "td:first-child{text-align:left}img{max-width:100%}</style>",
            f"</head><body><h1>{html.escape(self.title)}</h1>",
        ]
        for kind, content in self.blocks:
            if kind == "heading":
                parts.append(f"<h2>{html.escape(str(content))}</h2>")
            elif kind == "paragraph":
                parts.append(f"<p>{_inline(str(content))}</p>")
            elif kind == "bullets":
                assert isinstance(content, list)
                items = "".join(f"<li>{_inline(item)}</li>" for item in content)
                parts.append(f"<ul>{items}</ul>")
            elif kind == "table":
                header, rows = cast(TableContent, content)
                head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
                body = "".join(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                    for row in rows
                )
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            else:
                path, caption = cast(tuple[str, str], content)
                data = base64.b64encode((folder / path).read_bytes()).decode("ascii")
                parts.append(
                    f'<figure><img src="data:image/png;base64,{data}" '
                    f'alt="{html.escape(caption)}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


def _inline(text: str) -> str:
    """Escape, then turn Markdown `code` spans into <code>."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{piece}</code>" if i % 2 else piece for i, piece in enumerate(pieces))
