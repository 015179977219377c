"""Table of contents of an executed report, from the Markdown headings its cells output."""
from __future__ import annotations

import re

from urllib.parse import quote

HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


def heading_id(text: str) -> str:
    """The id nbconvert's ``add_anchor`` gives a heading (nbconvert 7; a test checks that
    every table-of-contents link resolves in the rendered HTML)."""
    return quote(text.replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def table_of_contents(nb) -> list[dict]:
    """``[{level, text, anchor}]`` for every heading in markdown cells and markdown outputs,
    with the anchors nbconvert gives the rendered headings."""
    entries = []
    for cell in nb.cells:
        texts = [cell.source] if cell.cell_type == "markdown" else [
            out.get("data", {}).get("text/markdown", "") for out in cell.get("outputs", [])]
        for text in texts:
            for line in text.splitlines():
                match = HEADING.match(line)
                if match:
                    title = match.group(2)
                    entries.append({"level": len(match.group(1)), "text": title,
                                    "anchor": heading_id(title)})
    return entries
