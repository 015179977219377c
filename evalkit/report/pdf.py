"""Print the reviewer HTML of a report run to PDF with headless Chromium.

The PDF is printed from the *released* HTML after that HTML passed the disclosure gate and the
person-key scan (:func:`evalkit.report.postrun.finish`); it shows nothing the HTML does not. The
page layout is the report template's print CSS (``templates/evalkit/index.html.j2``,
``@media print``). Chromium runs offline (name resolution disabled, no background networking)
with a fresh profile, in its own process group, and is killed with its helpers when it
overruns the timeout (:func:`evalkit.report.portable.kill_group`, POSIX and Windows).
"""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from evalkit.errors import EvalkitError, ParameterError
from evalkit.report import portable

#: seconds a browser may take to print one report (a 40-page final report takes a few seconds)
DEFAULT_TIMEOUT = 120.0
TIMEOUT_ENV = "EVALKIT_PDF_TIMEOUT"
INSTALL_HINT = ("install Chromium with the system's package manager (e.g. `apt-get install chromium`; in the "
                "evalkit checkout `make chromium`); on Windows put chrome or msedge on PATH; or set EVALKIT_CHROMIUM "
                "to the browser's path")
#: offline, no first-run or background traffic (the same flags as the tests' browser)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--no-pdf-header-footer", "--print-to-pdf-no-header")
#: what the manifest says about the PDF's disclosure checks
CHECKS = ("printed by headless Chromium from the released HTML after that HTML passed the disclosure gate and the "
          "person-key scan; the PDF shows nothing the HTML does not")


class PdfError(EvalkitError):
    """The browser did not print the PDF (it failed, or overran the timeout and was killed)."""


def require_chromium() -> str:
    """The browser to print with, or a one-line :class:`ParameterError` naming ``--pdf`` and how to install it."""
    browser = portable.find_chromium()
    if browser is None:
        chosen = os.environ.get(portable.BROWSER_ENV, "").strip()
        where = f"EVALKIT_CHROMIUM={chosen!r} is not an executable" if chosen else "no Chromium on PATH"
        raise ParameterError(f"--pdf needs headless Chromium to print the report ({where}): {INSTALL_HINT}.")
    return browser


def timeout_seconds() -> float:
    """``$EVALKIT_PDF_TIMEOUT`` (seconds, a finite number > 0) or :data:`DEFAULT_TIMEOUT` when unset or empty.

    Raises
    ------
    ParameterError
        When it is set to anything else (one line naming the variable and the allowed values).
    """
    raw = os.environ.get(TIMEOUT_ENV, "")
    text = raw.strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"{TIMEOUT_ENV}={raw!r} is not allowed; set it to a number of seconds greater than 0 "
                             f"(e.g. {DEFAULT_TIMEOUT:g}), or unset it for the default {DEFAULT_TIMEOUT:g} s.")
    return value


def print_pdf(html: Path, pdf: Path, *, browser: str | None = None, timeout: float | None = None,
              kill_grace_seconds: float = 5.0) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium (its print CSS, no header or footer line).

    Raises :class:`PdfError` when the browser fails or overruns ``timeout`` seconds (it is then
    killed with its process group), and leaves no partial ``pdf`` behind.
    """
    html, pdf = Path(html).resolve(), Path(pdf)
    browser = browser or require_chromium()
    timeout = timeout_seconds() if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix="evalkit-chromium-", ignore_cleanup_errors=True) as profile:
        out = Path(profile) / "out.pdf"
        argv = [browser, *FLAGS, f"--user-data-dir={Path(profile) / 'profile'}", f"--print-to-pdf={out}",
                html.as_uri()]
        start = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, **portable.group_kwargs())
        except OSError as exc:
            raise PdfError(f"the browser {browser!r} could not be started: {exc.strerror or exc}.") from None
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            portable.kill_group(proc, kill_grace_seconds)
            raise PdfError(f"the browser overran the PDF timeout of {timeout:g} s and was killed "
                           f"(set {TIMEOUT_ENV} to allow longer).") from None
        except BaseException:  # Ctrl-C: do not leave the browser running
            portable.kill_group(proc, kill_grace_seconds)
            raise
        if code != 0 or not out.is_file() or out.read_bytes()[:5] != b"%PDF-":
            raise PdfError(f"the browser exited with code {code} after {time.monotonic() - start:.1f} s without "
                           "printing a PDF.")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        tmp = pdf.with_name(f".{pdf.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        shutil.move(str(out), str(tmp))  # a rename, or a copy from another drive
        os.replace(tmp, pdf)
    return pdf


def page_count(pdf: Path) -> int:
    """Pages of a PDF as Chromium writes it (``/Type /Page`` objects; no PDF library needed)."""
    import re

    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", Path(pdf).read_bytes()))
