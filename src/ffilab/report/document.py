"""A tiny document model (headings, paragraphs, tables, images) rendered to Markdown and to HTML.

The report is built once as a list of blocks and rendered twice, so the Markdown and the HTML
always hold the same tables and numbers.  Text is plain; a pair of backticks marks code.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "Bullets", "Heading", "Image", "Paragraph", "Table", "render_html", "render_markdown"]


@dataclass
class Heading:
    """A section heading; ``level`` 1 is the title."""

    text: str
    level: int = 2


@dataclass
class Paragraph:
    """A paragraph of plain text (backticks mark code)."""

    text: str


@dataclass
class Bullets:
    """A bullet list of plain-text items."""

    items: list[str]


@dataclass
class Table:
    """A table of text cells; ``numeric`` columns are right-aligned; ``notes`` follow it.

    ``html_class`` names the table's layout in the HTML (e.g. ``"fit"``: as wide as the page, cells
    wrapped, so that many columns fit a laptop window); Markdown ignores it.
    """

    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    numeric: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    html_class: str = ""


@dataclass
class Image:
    """A PNG written beside the report; Markdown links it, HTML embeds it as a data: URI."""

    path: Path
    alt: str
    caption: str = ""


Block = Heading | Paragraph | Bullets | Table | Image

_CODE = re.compile(r"`([^`]+)`")


def _inline_html(text: str) -> str:
    # Escape first, then turn `code` into <code>: the backticks survive escaping unchanged.
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def _md_cell(text: str) -> str:
    # A pipe would end the cell and a newline the row.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> list[str]:
    lines = [f"*{table.caption}*", ""] if table.caption else []
    lines.append("| " + " | ".join(_md_cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---:" if i in table.numeric else "---" for i in range(len(table.columns))) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.notes:
        lines.append("")
        lines += [f"{note}  " for note in table.notes]
    return lines


def render_markdown(blocks: list[Block]) -> str:
    """Render the blocks as GitHub-flavoured Markdown; images are linked by file name."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            out.append("\n".join(_md_table(block)))
        else:
            image = f"![{_md_cell(block.alt)}]({block.path.name})"
            out.append(image + (f"\n\n*{block.caption}*" if block.caption else ""))
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 78rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { border-bottom: 2px solid #ccc; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; vertical-align: top; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3rem; }
.notes { font-size: .85rem; color: #444; margin-top: -.3rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #444; }
/* A table wider than the window scrolls inside its own box instead of running off the page. */
.table-box { max-width: 100%; overflow-x: auto; }
/* "fit": as wide as the page, equal route columns, cells wrapped (13 columns fit 1280 px); the row
   labels keep a wider first column and stay in view if a narrower window still scrolls. */
table.fit { table-layout: fixed; width: 100%; min-width: 60rem; font-size: .8rem; }
table.fit th, table.fit td { overflow-wrap: break-word; hyphens: auto; padding: .2rem .3rem; }
table.fit th:first-child, table.fit td:first-child { width: 9rem; position: sticky; left: 0; background: #f8f8f8; }
table.fit td.num { white-space: normal; }
code { background: #f4f4f4; padding: 0 .2rem; border-radius: 3px; }
"""


def _html_table(table: Table) -> str:
    parts = ['<div class="table-box">', f'<table class="{html.escape(table.html_class, quote=True)}">' if table.html_class
             else "<table>"]
    if table.caption:
        parts.append(f"<caption>{_inline_html(table.caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{_inline_html(c)}</th>" for c in table.columns) + "</tr></thead>")
    parts.append("<tbody>")
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{_inline_html(c)}</td>' if i in table.numeric else f"<td>{_inline_html(c)}</td>"
            for i, c in enumerate(row)
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table></div>")
    if table.notes:
        parts.append('<div class="notes">' + "<br>".join(_inline_html(n) for n in table.notes) + "</div>")
    return "\n".join(parts)


def render_html(blocks: list[Block], title: str) -> str:
    """Render the blocks as one self-contained HTML page: inline CSS, images as base64 data: URIs."""
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        else:
            data = base64.b64encode(block.path.read_bytes()).decode("ascii")
            caption = f"<figcaption>{_inline_html(block.caption)}</figcaption>" if block.caption else ""
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt, quote=True)}">'
                f"{caption}</figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
