"""Sections a report run was asked for but could not estimate (the kernel records, the runner reads).

A scheduled run must not report success when a section it was asked for shows only a note: the
kernel calls :func:`record_section_failure`, and the runner (:mod:`evalkit.report.runner`) ends the
run ``needs_review`` with the reasons in ``run.log`` and the manifest (:func:`failed_sections`,
:func:`section_status`). Kept apart from the runner so that report sections can record without
importing it.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

SECTIONS_ENV = "EVALKIT_SECTION_FAILURES"
SECTIONS_FILE = "sections_failed.jsonl"
#: at most this many failed sections are recorded, each reason cut to this many characters
_MAX_SECTIONS, _MAX_REASON = 20, 500


def record_section_failure(section: str, reason: str, *, detail: str | None = None) -> None:
    """In a report run's kernel: record that the requested ``section`` could not be estimated, and why.

    The runner then ends the run ``needs_review`` (exit code 3) instead of ``ok``, with the reason
    in ``run.log`` and the manifest's ``sections_failed`` (:func:`failed_sections`): a scheduled run
    must not report success when a section it was asked for shows only a note. ``reason`` must
    already be fit for reviewers (checked by :func:`evalkit.report.textcheck.check_text`);
    ``detail`` (e.g. the full error message) stays in the restricted folder's :data:`SECTIONS_FILE`.
    Outside a run (a notebook opened by hand) nothing is recorded.
    """
    path = os.environ.get(SECTIONS_ENV)
    if not path:
        return
    line = json.dumps({"section": str(section), "reason": " ".join(str(reason).split())[:_MAX_REASON],
                       "detail": None if detail is None else str(detail)})
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def failed_sections(path: Path) -> list[dict]:
    """The sections the kernel recorded as not estimated (:func:`record_section_failure`), each once:
    [{"section": ..., "reason": ...}]; empty without the file. Lines that are not such records are skipped."""
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            item = json.loads(line)
            if isinstance(item, dict) and isinstance(item.get("section"), str) and isinstance(item.get("reason"), str):
                entry = {"section": item["section"][:64], "reason": " ".join(item["reason"].split())[:_MAX_REASON]}
                if entry not in found:
                    found.append(entry)
    return found[:_MAX_SECTIONS]


def section_status(status: str, failed: list) -> str:
    """The run's status with its failed sections: an ``ok`` run with a requested section that could not be
    estimated needs a human (``needs_review``); ``failed`` and ``needs_review`` stay."""
    return "needs_review" if failed and status == "ok" else status
