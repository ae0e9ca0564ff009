"""Everything about fast OVSDB JSON framing lives here.

PyPI's ``ovs`` package usually builds without its C extension, and the
pure-Python ``ovs.json.Parser`` is quadratic in the length of a string (a
10k-member pool value takes seconds). :func:`install_json_parser` makes the
``ovs`` JSON-RPC layer use a fast parser instead: ovs's own C extension when
it was built (or Debian's python3-openvswitch build, on request), else
:class:`StdlibJsonParser`, which finds message boundaries itself and decodes
with the standard ``json`` module's C scanner, giving exactly the values
``ovs.json`` would.

Nothing happens at import time: the IDL backend and the SB watcher call
:func:`ensure_json_parser` where they open a connection, and ``ovnlb
version`` / ``ovnlb doctor`` report :func:`json_parser_info`. This module is
not an OVSDB client; it only replaces the parser the ``ovs`` library uses.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
import sysconfig
from pathlib import Path
from typing import Any, Final

import ovs.json

__all__ = [
    "DEBIAN_OVS_DIR",
    "StdlibJsonParser",
    "ensure_json_parser",
    "install_json_parser",
    "json_parser_info",
    "ovs_python_parser",
]

log = logging.getLogger(__name__)

#: ``ovs.json.Parser`` as the ovs package defined it (C-backed or pure Python).
#: Its methods refer to it by its module-global name, so it stays bound there;
#: the stdlib path only replaces its ``__new__`` (as the C path does).
_OVS_PARSER_CLASS: Final[Any] = ovs.json.Parser
_OVS_PARSER_NEW: Final[Any] = _OVS_PARSER_CLASS.__dict__["__new__"]

#: Where Debian's python3-openvswitch puts its compiled parser.
DEBIAN_OVS_DIR: Final = Path("/usr/lib/python3/dist-packages/ovs")

_STRUCT_RE: Final = re.compile(r'["\[\]{}]')
_NON_SPACE_RE: Final = re.compile(r"[^ \t\r\n]")
_STRING_END_RE: Final = re.compile(r'"(?<!\\")')
_ESCAPED_BACKSLASH_RE: Final = re.compile(r"\\\\")
# Escapes where the ovs parser and the json module disagree (ovs rejects NUL
# and unpaired leading surrogates). ovsdb-server never sends them (it writes
# non-ASCII as raw UTF-8 and escapes only control characters); when they do
# occur the message is handed to the ovs parser itself, so results stay identical.
_ODD_ESCAPE_RE: Final = re.compile(r"\\u(?:0000|[dD][89abAB])")
_MAX_DEPTH: Final = 1000  # ovs.json.Parser.MAX_HEIGHT

_INT64_LIMIT: Final = 2**63
_NUMBER_RE: Final = re.compile(r"(-)?(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?$")


def _ovs_number(text: str) -> int | float:
    """A JSON number as ovs.json reads it: int when integral and within int64, else float."""
    if "." not in text and "e" not in text and "E" not in text:
        as_int = int(text)
        if -_INT64_LIMIT <= as_int < _INT64_LIMIT:
            return as_int
    # The rest mirrors ovs.json.Parser.__lex_finish_number step by step.
    m = _NUMBER_RE.match(text)
    if m is None:
        raise ValueError(f"syntax error in number {text!r}")
    sign, integer, fraction, exp = m.groups()
    if exp is not None and not -sys.maxsize - 1 <= int(exp) <= sys.maxsize:
        raise ValueError("exponent outside valid range")
    if fraction is not None and not fraction.lstrip("0"):
        fraction = None
    significand = int(integer + (fraction or ""))
    pow10 = (-len(fraction) if fraction else 0) + (int(exp) if exp else 0)
    if significand == 0:
        return 0
    if significand <= _INT64_LIMIT:
        while pow10 > 0 and significand <= _INT64_LIMIT:
            significand *= 10
            pow10 -= 1
        while pow10 < 0 and significand % 10 == 0:
            significand //= 10
            pow10 += 1
        if pow10 == 0 and (
            (not sign and significand < _INT64_LIMIT) or (sign and significand <= _INT64_LIMIT)
        ):
            return -significand if sign else significand
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number outside valid range")
    return value if value != 0 else 0


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid keyword {name!r}")


_DECODER: Final = json.JSONDecoder(
    parse_int=_ovs_number, parse_float=_ovs_number, parse_constant=_reject_constant, strict=True
)


def ovs_python_parser(check_trailer: bool) -> Any:
    """A pure-Python ``ovs.json.Parser``, bypassing the ``__new__`` that picks a parser."""
    parser = object.__new__(_OVS_PARSER_CLASS)
    parser.__init__(check_trailer=check_trailer)
    return parser


class StdlibJsonParser:
    """A drop-in ``ovs.json.Parser`` that decodes with the standard ``json`` module.

    ``feed`` only finds where the top-level object or array ends (a regular
    expression skips from one bracket or quote to the next, so long strings
    cost nothing in Python); the complete text is then decoded by ``json``'s
    C scanner. Numbers follow ovs.json's rules. Anything the two parsers
    could disagree on (errors, NUL or surrogate escapes) is re-parsed by the
    ovs parser itself, so the result is always what ovs.json returns.
    """

    def __init__(self, check_trailer: bool = False) -> None:
        self.check_trailer = check_trailer
        self._chunks: list[str] = []
        self._depth = 0
        self._started = False
        self._in_string = False
        self._escape = False
        self._text: str | None = None
        self._delegate: Any = None
        self.done = False

    def _delegate_to_ovs(self, text: str) -> int:
        """Hand everything (buffered and new) to the ovs parser."""
        self._delegate = ovs_python_parser(self.check_trailer)
        return int(self._delegate.feed(text))

    def feed(self, s: str) -> int:
        """Consume ``s`` up to the end of the top-level value; return chars consumed."""
        if self._delegate is not None:
            return int(self._delegate.feed(s))
        if self.done:
            return 0
        if self.check_trailer:
            # Whole-document parse (from_string/from_stream): buffer it all,
            # finish() decodes and rejects trailing garbage.
            self._chunks.append(s)
            return len(s)
        n = len(s)
        pos = 0
        if not self._started:
            # Leading whitespace is kept: a fallback to the ovs parser then
            # reports the same line and column numbers.
            m = _NON_SPACE_RE.search(s)
            if m is None:
                self._chunks.append(s)
                return n
            if m.group() not in "{[":
                # ovs.json accepts only an object or array at the top: let it
                # report the error its own way.
                text, self._chunks = "".join(self._chunks), []
                return self._delegate_to_ovs(text + s) - len(text)
            self._started = True
            self._depth = 1
            pos = m.end()
            self._chunks.append(s[:pos])
        start = pos
        if self._escape and pos < n:
            self._escape = False
            pos += 1
        # Without an escaped backslash in the chunk, a quote is a string's end
        # exactly when no backslash precedes it: str.find goes to the first quote at
        # memchr speed, and when a backslash precedes that one, a regular expression
        # of a literal '"' and a look-behind finds the first that has none, at C
        # speed however many escaped quotes a string holds (20k in a member-status
        # value at 10k members). Otherwise escaped backslashes and quotes are blanked
        # out (same length, left to right as JSON reads escapes) and str.find skips
        # to the next '"'. ("\\" in s is a memchr: most chunks have no backslash.)
        plain = "\\" not in s or _ESCAPED_BACKSLASH_RE.search(s, pos) is None
        t = s
        if not plain:
            t = s[:pos] + s[pos:].replace("\\\\", "\0\0").replace('\\"', "\0\0")
        while pos < n:
            if self._in_string:
                quote = t.find('"', pos)
                # A quote right at pos follows the opening quote or an escaped
                # character (maybe the previous chunk's): it is the end.
                if plain and quote > pos and t[quote - 1] == "\\":
                    m = _STRING_END_RE.search(t, quote + 1)
                    quote = -1 if m is None else m.start()
                if quote >= 0:
                    self._in_string = False
                    pos = quote + 1
                else:
                    # A lone backslash ending the chunk: its escaped character
                    # is the next chunk's first.
                    self._escape = t.endswith("\\")
                    pos = n
                continue
            m = _STRUCT_RE.search(t, pos)
            if m is None:
                pos = n
                continue
            pos = m.end()
            c = m.group()
            if c == '"':
                self._in_string = True
            elif c in "[{":
                self._depth += 1
                if self._depth > _MAX_DEPTH:
                    self._chunks.append(s[start:pos])
                    text, self._chunks = "".join(self._chunks), []
                    self._delegate_to_ovs(text)
                    return pos
            else:
                self._depth -= 1
                if self._depth == 0:
                    self._chunks.append(s[start:pos])
                    self._text, self._chunks = "".join(self._chunks), []
                    self.done = True
                    return pos
        self._chunks.append(s[start:pos])
        return pos

    def is_done(self) -> bool:
        """True once a complete top-level value has been consumed."""
        if self._delegate is not None:
            return bool(self._delegate.is_done())
        return self.done

    def finish(self) -> Any:
        """The parsed value, or an error message string (as ovs.json does)."""
        if self._delegate is not None:
            return self._delegate.finish()
        text = self._text
        if text is None and self.check_trailer:
            text = "".join(self._chunks)
            stripped = text.strip(" \t\r\n")
            if not stripped or stripped[0] not in "{[":
                text = None
        if text is not None and _ODD_ESCAPE_RE.search(text) is None:
            try:
                return _DECODER.decode(text)
            except (ValueError, RecursionError):
                pass
        # Incomplete or invalid input, or escapes the parsers treat
        # differently: the ovs parser gives its exact result or error text.
        fallback = ovs_python_parser(self.check_trailer)
        fallback.feed(text if text is not None else "".join(self._chunks))
        return fallback.finish()


def _stdlib_parser_new(cls: Any, *args: Any, **kwargs: Any) -> StdlibJsonParser:
    # Returning a non-instance skips Parser.__init__, exactly like the C path.
    return StdlibJsonParser(*args, **kwargs)


#: What :func:`json_parser_info` reports; None until a parser is installed.
_parser_info: str | None = None


def _load_debian_c_parser() -> str | None:
    """Load Debian's compiled ``ovs._json`` into this interpreter; its path or None."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ""
    path = DEBIAN_OVS_DIR / f"_json{suffix}"
    if sys.implementation.name != "cpython" or not suffix or not path.is_file():
        return None
    try:
        spec = importlib.util.spec_from_file_location("ovs._json", path)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # Smoke test before trusting it with the connection.
        parser = module.Parser()
        parser.feed('{"a":["map",[["k","\\u00e9"]]]}')
        if parser.finish() != {"a": ["map", [["k", "\u00e9"]]]}:
            return None
    except Exception:  # an incompatible build: ImportError, SystemError, ...
        log.debug("cannot load %s", path, exc_info=True)
        return None
    sys.modules["ovs._json"] = module
    ovs._json = module
    # ovs/json.py binds the name ``ovs`` only when its own ``import ovs._json`` worked.
    ovs.json.ovs = ovs
    return str(path)


def install_json_parser(mode: str | None = None) -> str:
    """Choose the JSON parser the ``ovs`` library uses; return a description.

    ``mode`` (default: ``$OVNLB_JSON_PARSER``, else ``auto``):

    * ``auto``: ovs's own C extension when it was built, else :class:`StdlibJsonParser`;
    * ``c``: ovs's C extension, loading Debian's python3-openvswitch build
      when PyPI's ``ovs`` has none (falls back to ``auto`` if neither loads);
    * ``stdlib``: :class:`StdlibJsonParser` (needs nothing outside the stdlib);
    * ``python``: ovs's pure-Python parser (slow; for comparisons only).
    """
    global _parser_info
    mode = (mode or os.environ.get("OVNLB_JSON_PARSER") or "auto").strip().lower()
    if mode not in ("auto", "c", "stdlib", "python"):
        raise ValueError(f"OVNLB_JSON_PARSER must be auto, c, stdlib or python, not {mode!r}")
    c_loaded = "ovs._json" in sys.modules and hasattr(ovs, "_json")
    note = ""
    if mode == "c" and not c_loaded:
        c_loaded = _load_debian_c_parser() is not None
        if not c_loaded:
            note = " (requested c: no loadable ovs._json)"
    if mode in ("c", "auto") and c_loaded:
        ovs.json.PARSER = ovs.json.PARSER_C
        _OVS_PARSER_CLASS.__new__ = _OVS_PARSER_NEW
        path = str(getattr(sys.modules["ovs._json"], "__file__", "ovs._json"))
        origin = "Debian python3-openvswitch" if path.startswith(str(DEBIAN_OVS_DIR)) else "ovs"
        _parser_info = f"c (C extension ovs._json from {origin}: {path})"
    elif mode == "python":
        ovs.json.PARSER = ovs.json.PARSER_PY
        _OVS_PARSER_CLASS.__new__ = _OVS_PARSER_NEW
        _parser_info = "python (ovs.json pure-Python parser; slow for rows with many members)"
    else:
        # Any value other than PARSER_C makes jsonrpc feed str (not bytes) to the parser.
        ovs.json.PARSER = "STDLIB"
        _OVS_PARSER_CLASS.__new__ = _stdlib_parser_new
        _parser_info = "stdlib (ovnlb framing + json module's C scanner)" + note
    return _parser_info


def ensure_json_parser() -> str:
    """Install the parser ``$OVNLB_JSON_PARSER`` names unless one is installed; describe it.

    Called wherever an OVSDB connection is opened, so an explicit
    :func:`install_json_parser` made earlier (tests, benchmarks) is kept.
    """
    if _parser_info is not None:
        return _parser_info
    try:
        return install_json_parser()
    except ValueError:  # a bad $OVNLB_JSON_PARSER must not stop the connection
        log.warning("ignoring OVNLB_JSON_PARSER=%r", os.environ.get("OVNLB_JSON_PARSER"))
        return install_json_parser("auto")


def json_parser_info() -> str:
    """Which JSON parser the ``ovs`` library uses (printed by ``ovnlb version`` / ``doctor``).

    Installs the default first when nothing is installed yet, so the report is
    what a connection made now would use.
    """
    return ensure_json_parser()
