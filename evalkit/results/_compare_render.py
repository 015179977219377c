"""Renderings of a comparison grid: plain text, HTML, LaTeX (booktabs), Markdown and RTF.

Pure functions of a :class:`evalkit.results._compare_grid.Grid`; each escapes what its format
treats as markup. None needs a package beyond the standard library (no jinja2, tabulate or
python-docx).
"""
from __future__ import annotations

import html
import re

from evalkit.results._compare_grid import FOOTER, STAT, Grid


def _lines(grid: Grid) -> list[tuple[str, tuple[str, ...], str]]:
    return [(lab, row, kind) for lab, row, kind in zip(grid.labels, grid.rows, grid.kinds)]


def _first_footer(grid: Grid) -> int | None:
    return next((i for i, k in enumerate(grid.kinds) if k == FOOTER), None)


# ------------------------------------------------------------------------------ text
def to_text(grid: Grid) -> str:
    """Aligned plain text: label column left, model columns right, rules of "=" and "-"."""
    table = [grid.header, *[(lab, *row) for lab, row, _ in _lines(grid)]]
    widths = [max(len(r[j]) for r in table) for j in range(len(grid.header))]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    total = sum(widths) + 2 * (len(widths) - 1)
    out = ["=" * total, line(grid.header), "-" * total]
    first = _first_footer(grid)
    for i, (lab, row, _) in enumerate(_lines(grid)):
        if i == first and i > 0:
            out.append("-" * total)
        out.append(line((lab, *row)))
    out.append("=" * total)
    return "\n".join(out + list(grid.notes))


# ------------------------------------------------------------------------------ HTML
_RULE = {"top": "border-top:2px solid currentColor", "mid": "border-top:1px solid currentColor",
         "bottom": "border-bottom:2px solid currentColor"}


def to_html(grid: Grid) -> str:
    """A table with booktabs-like rules for JupyterLab (inline styles; escaped)."""
    esc = html.escape
    head = "".join(f"<th style='text-align:{'left' if j == 0 else 'center'};{_RULE['top']};"
                   f"border-bottom:1px solid currentColor'>{esc(h)}</th>" for j, h in enumerate(grid.header))
    body, first, last = [], _first_footer(grid), len(grid.rows) - 1
    for i, (lab, row, kind) in enumerate(_lines(grid)):
        rules = ";".join(r for r, on in ((_RULE["mid"], i == first and i > 0), (_RULE["bottom"], i == last)) if on)
        small = "font-size:smaller;" if kind == STAT else ""
        cells = "".join(f"<td style='text-align:center;padding:0.1em 0.6em;{small}{rules}'>{esc(c)}</td>" for c in row)
        body.append(f"<tr><th scope='row' style='text-align:left;font-weight:normal;{rules}'>{esc(lab)}</th>"
                    f"{cells}</tr>")
    notes = "".join(f"<p style='font-size:smaller;margin:0.2em 0'>{esc(n)}</p>" for n in grid.notes)
    return (f"<div class='evalkit-compare'><table style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{notes}</div>")


# ------------------------------------------------------------------------------ LaTeX
_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
          ">": r"\textgreater{}", "×": r"$\times$", "∞": r"$\infty$", "†": r"\textsuperscript{\textdagger}",
          "−": "$-$", "\n": " "}
#: a minus sign before a number ("-0.369", "[-1.2, -∞]"), written as a math minus, not a hyphen
_MINUS = re.compile(r"(?<![\w-])-(?=[\d∞])")


def latex_escape(text: str) -> str:
    """``text`` as LaTeX (text mode): special characters escaped, a number's minus as ``$-$``."""
    return "".join(_LATEX.get(ch, ch) for ch in _MINUS.sub("−", str(text)))


def to_latex(grid: Grid, *, caption: str | None = None, label: str | None = None, table_float: bool = True) -> str:
    """A booktabs tabular (``l`` then one ``c`` per model), notes below; in a ``table`` float if asked."""
    row = lambda cells: " & ".join(latex_escape(c) for c in cells) + r" \\"  # noqa: E731
    lines = [r"\begin{tabular}{l" + "c" * (len(grid.header) - 1) + "}", r"\toprule", row(grid.header), r"\midrule"]
    first = _first_footer(grid)
    for i, (lab, cells, _) in enumerate(_lines(grid)):
        if i == first and i > 0:
            lines.append(r"\midrule")
        lines.append(row((lab, *cells)))
    lines += [r"\bottomrule", r"\end{tabular}"]
    if grid.notes:
        notes = " ".join(latex_escape(n) for n in grid.notes)
        lines += [r"\par\medskip", r"\begin{minipage}{\linewidth}\footnotesize " + notes + r"\end{minipage}"]
    if not table_float:
        return "\n".join(lines) + "\n"
    head = [r"\begin{table}[htbp]", r"\centering"]
    if caption:
        head.append(r"\caption{" + latex_escape(caption) + "}")
    if label:
        head.append(r"\label{" + str(label) + "}")
    return "\n".join(head + lines + [r"\end{table}"]) + "\n"


# ------------------------------------------------------------------------------ Markdown
_MD = re.compile(r"([\\|*_`])")


def _md(text: str) -> str:
    return _MD.sub(r"\\\1", str(text)).replace("\n", " ")


def to_markdown(grid: Grid) -> str:
    """A pipe table (label column left-aligned, models centred), then one paragraph per note."""
    def row(cells) -> str:
        return "| " + " | ".join(_md(c) for c in cells) + " |"

    lines = [row(grid.header), "| " + " | ".join([":---"] + [":---:"] * (len(grid.header) - 1)) + " |"]
    lines += [row((lab, *cells)) for lab, cells, _ in _lines(grid)]
    return "\n".join(lines) + "".join(f"\n\n{_md(n)}" for n in grid.notes) + "\n"


# ------------------------------------------------------------------------------ RTF
def rtf_escape(text: str) -> str:
    """``text`` as 7-bit RTF: ``\\ { }`` escaped, other characters as ``\\uN?`` (UTF-16 units)."""
    out = []
    for ch in str(text):
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append(r"\line ")
        elif 32 <= ord(ch) < 128:
            out.append(ch)
        else:
            units = ch.encode("utf-16-le")
            for k in range(0, len(units), 2):
                code = int.from_bytes(units[k:k + 2], "little")
                out.append(f"\\u{code - 65536 if code > 32767 else code}?")
    return "".join(out)


_PAGE = 9638  # A4 width minus 2 cm margins, in twips


def to_rtf(grid: Grid) -> str:
    """An RTF document: the table with rules above and below the header and the table and above
    the model facts, then the notes (Calibri 10 pt, A4)."""
    k = len(grid.header) - 1
    first_w = 2800
    width = max(1000, min(2000, (_PAGE - first_w) // max(k, 1)))
    edges = [first_w + width * j for j in range(k + 1)]
    first, n = _first_footer(grid), len(grid.rows)
    parts = [r"{\rtf1\ansi\ansicpg1252\deff0\uc1{\fonttbl{\f0\fswiss\fcharset0 Calibri;}}",
             r"\paperw11906\paperh16838\margl1134\margr1134\margt1134\margb1134",
             _rtf_row(grid.header, edges, top=20, bottom=10, bold=True)]
    for i, (lab, cells, _) in enumerate(_lines(grid)):
        parts.append(_rtf_row((lab, *cells), edges, top=10 if i == first and i > 0 else 0,
                              bottom=20 if i == n - 1 else 0))
    parts += [r"\pard\plain\f0\fs18\sb60 " + rtf_escape(note) + r"\par" for note in grid.notes]
    return "\n".join(parts) + "\n}\n"


def _rtf_row(cells, edges, *, top: int = 0, bottom: int = 0, bold: bool = False) -> str:
    borders = (rf"\clbrdrt\brdrs\brdrw{top}" if top else "") + (rf"\clbrdrb\brdrs\brdrw{bottom}" if bottom else "")
    defs = "".join(f"{borders}\\cellx{e}" for e in edges)
    weight = r"\b" if bold else ""
    body = "".join(r"\pard\plain\intbl" + (r"\ql" if j == 0 else r"\qc") + r"\f0\fs20" + weight + " "
                   + rtf_escape(c) + r"\cell" for j, c in enumerate(cells))
    return rf"\trowd\trgaph70\trleft0{defs}" + "\n" + body + r"\row"
