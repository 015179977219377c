"""Release seals: an HMAC that binds a display output to the exact bytes evalkit checked.

In a report run the runner gives the kernel a fresh random key (environment variable
``EVALKIT_RUN_KEY``, read once and removed from the environment at first use). Every
evalkit renderer that has checked its content (safe tables, results, library figures and
sentences, :func:`evalkit.report.release.release`) emits its display output with
``{"evalkit_release": {"kind": ..., "mac": HMAC(key, content)}}`` in the output metadata.
After the run, the runner recomputes the HMAC with the same key: an output without a seal,
with a seal copied from another output or another run, forged by hand or left on content
that was changed afterwards, fails and is withheld (:mod:`evalkit.report.gate`).

Text that evalkit itself writes to stdout (``print(result)``) cannot carry metadata; the
HMAC of each of its lines goes to a per-run ledger file (``EVALKIT_RUN_LEDGER``) instead,
and a stream output is released only when every line of it is in the ledger.

Outside a report run the key is a random per-process key, so sealing costs nothing and
proves nothing. This module is the bottom layer: it imports nothing from evalkit.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field

KEY_ENV = "EVALKIT_RUN_KEY"
LEDGER_ENV = "EVALKIT_RUN_LEDGER"
MIN_CELL_ENV = "EVALKIT_MIN_CELL"
ROUND_BASE_ENV = "EVALKIT_ROUND_BASE"
META = "evalkit_release"
_STATE: dict = {}


def _init() -> dict:
    if not _STATE:
        key = os.environ.pop(KEY_ENV, None)
        _STATE["report_run"] = key is not None
        _STATE["key"] = (key or secrets.token_hex(32)).encode()
        _STATE["ledger"] = os.environ.pop(LEDGER_ENV, None)
        _STATE["min_cell"] = int(os.environ.get(MIN_CELL_ENV, "5") or 5)
        _STATE["round_base"] = int(os.environ.get(ROUND_BASE_ENV, "0") or 0) or None
    return _STATE


def in_report_run() -> bool:
    """True inside a kernel started by the report runner."""
    return _init()["report_run"]


def known_report_run() -> bool:
    """Like :func:`in_report_run`, without reading (and so removing) the run key from the environment.

    For code that may run in the report runner's own process while it starts a kernel.
    """
    return _STATE["report_run"] if _STATE else KEY_ENV in os.environ


def run_min_cell() -> int:
    """The report run's disclosure threshold (5 outside a run)."""
    return _init()["min_cell"]


def run_round_base() -> int | None:
    """The report run's rounding base for every published count (``None`` outside a run)."""
    return _init()["round_base"]


def restricted_file(name: str) -> str | None:
    """A file beside the run's ledger in the restricted folder (``None`` outside a report run)."""
    ledger = _init()["ledger"]
    return os.path.join(os.path.dirname(ledger), name) if ledger else None


def mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def canonical(data: dict, info: dict) -> bytes:
    """The bytes a seal vouches for: every mimetype's content and the seal's own fields."""
    return json.dumps({"data": data, "info": info}, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")


def seal(data: dict, kind: str, **info) -> dict:
    """Output metadata sealing ``data`` (a mimebundle of text payloads) under this run's key."""
    fields = {"kind": kind, **info}
    return {META: {**fields, "mac": mac(_init()["key"], canonical(data, fields))}}


def verify(data: dict, metadata: dict | None, key: bytes) -> dict | None:
    """The seal's fields when ``metadata`` seals exactly ``data`` under ``key``, else ``None``."""
    stamp = (metadata or {}).get(META)
    if not isinstance(stamp, dict) or not isinstance(stamp.get("mac"), str):
        return None
    fields = {k: v for k, v in stamp.items() if k != "mac"}
    return fields if hmac.compare_digest(stamp["mac"], mac(key, canonical(data, fields))) else None


def line_mac(key: bytes, line: str) -> str:
    return mac(key, b"line:" + line.rstrip("\r\n").encode("utf-8"))


def note_lines(text: str) -> str:
    """Record every line of ``text`` (written by evalkit) in the run's ledger; returns ``text``."""
    state = _init()
    if state["ledger"]:
        macs = [line_mac(state["key"], line) for line in text.splitlines()]
        with open(state["ledger"], "a", encoding="ascii") as fh:
            fh.write("".join(m + "\n" for m in macs))
    return text


@dataclass(frozen=True)
class Sealed:
    """A display object whose mimebundle evalkit checked; IPython shows it with its seal.

    ``data`` must hold ``text/plain`` so that IPython adds no unsealed representation.
    """

    data: dict = field(repr=False)
    kind: str
    info: tuple = ()

    def __post_init__(self):
        if "text/plain" not in self.data:
            object.__setattr__(self, "data", {**self.data, "text/plain": f"[evalkit {self.kind}]"})

    def _repr_mimebundle_(self, include=None, exclude=None):
        return dict(self.data), seal(dict(self.data), self.kind, **dict(self.info))

    def __repr__(self) -> str:
        return self.data["text/plain"]
