"""The bot's words, one translatewiki-style JSON file per language.

A language is data: `bot/i18n/<lang>.json` (plus any folder named by the environment variable
`AMBASSADOR_MESSAGES`, several separated by the path separator, later folders winning) maps
message keys to text. `$1`, `$2`, … are the message's parameters; `{{PLURAL:$1|form|form|…}}`
picks a form by the CLDR plural category of `$1` through Babel, the forms written in CLDR's order
of the categories the language has (zero, one, two, few, many, other: cs one|few|many|other,
ar zero|one|two|few|many|other, ko and vi one form); a missing last form repeats the one before,
and an explicit `N=form` wins for exactly N, as in MediaWiki. `qqq.json` documents every key.
English (`en.json`) is complete; a message another language lacks falls back to English with a
warning logged once per (language, key).

Standard library and Babel only: no network, no jobs.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

from babel import Locale

log = logging.getLogger(__name__)

MESSAGE_DIR = Path(__file__).resolve().parent
ENV_VAR = "AMBASSADOR_MESSAGES"
FALLBACK = "en"
DOC = "qqq"  # translatewiki's pseudo-language for message documentation
CLDR_ORDER = ("zero", "one", "two", "few", "many", "other")
_PLURAL = re.compile(r"\{\{PLURAL:\s*\$(\d+)\s*\|((?:[^{}]|\{(?!\{))*)\}\}", re.IGNORECASE)
_PARAM = re.compile(r"\$(\d+)")
_LANG_FILE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*\Z")

_lock = threading.Lock()
_cache: dict[tuple, dict[str, str]] = {}
_warned: set[tuple[str, str]] = set()


class MessageError(ValueError):
    """A message file that cannot be read, or a message that cannot be resolved."""


def message_dirs() -> tuple[Path, ...]:
    extra = [Path(p).expanduser() for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return (MESSAGE_DIR, *extra)


def available_languages() -> tuple[str, ...]:
    """Every language with a message file, in alphabetical order (qqq is documentation, not a language)."""
    codes: set[str] = set()
    for folder in message_dirs():
        try:
            names = [p.stem for p in folder.glob("*.json")]
        except OSError:
            continue
        codes.update(n for n in names if n != DOC and _LANG_FILE.match(n))
    return tuple(sorted(codes))


class LanguageList(Sequence[str]):
    """A live, read-only view of `available_languages()` (a message folder may be added at run time)."""

    def _codes(self) -> tuple[str, ...]:
        return available_languages()

    def __getitem__(self, i):
        return self._codes()[i]

    def __len__(self) -> int:
        return len(self._codes())

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes())

    def __contains__(self, code: object) -> bool:
        return code in self._codes()

    def __repr__(self) -> str:
        return f"LanguageList{self._codes()!r}"


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MessageError(f"{path}: cannot read message file: {exc}") from None
    if not isinstance(data, dict):
        raise MessageError(f"{path}: a message file must be a JSON object")
    out = {}
    for key, value in data.items():
        if key == "@metadata":
            continue
        if not isinstance(value, str):
            raise MessageError(f"{path}: message {key!r} must be a string")
        out[key] = value
    return out


def stamp(lang: str) -> tuple:
    """What identifies the current message files of a language (paths and modification times)."""
    return _stamp(lang)


def _stamp(lang: str) -> tuple:
    files = []
    for folder in message_dirs():
        path = folder / f"{lang}.json"
        try:
            files.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            continue
    return (lang, tuple(files))


def messages_of(lang: str) -> dict[str, str]:
    """The messages written for `lang` (no fallback), all message folders merged."""
    stamp = _stamp(lang)
    with _lock:
        if stamp in _cache:
            return _cache[stamp]
    merged: dict[str, str] = {}
    for path, _ in stamp[1]:
        merged.update(_read(Path(path)))
    with _lock:
        _cache[stamp] = merged
    return merged


def raw(lang: str, key: str) -> str:
    """The text of a message in `lang`, or in English (warning once per language and key)."""
    return lookup(lang, key)[1]


def lookup(lang: str, key: str) -> tuple[str, str]:
    """(the language of the text found, the text): `lang`'s own, or English's with a warning once."""
    own = messages_of(lang)
    if key in own:
        return lang, own[key]
    english = messages_of(FALLBACK)
    if key not in english:
        raise MessageError(f"unknown message {key!r}")
    if (lang, key) not in _warned:
        _warned.add((lang, key))
        log.warning("message %r missing for language %s; using English", key, lang,
                    extra={"outcome": "message-fallback"})
    return FALLBACK, english[key]


def has(lang: str, key: str) -> bool:
    return key in messages_of(lang) or key in messages_of(FALLBACK)


def missing(lang: str) -> list[str]:
    """The keys English has and `lang` does not (what `ambassador check-config` lists)."""
    own = messages_of(lang)
    return sorted(k for k in messages_of(FALLBACK) if k not in own)


def categories(lang: str) -> tuple[str, ...]:
    """The CLDR plural categories of `lang` for integers and decimals, in CLDR order."""
    tags = Locale.parse(lang.replace("-", "_")).plural_form.tags
    return tuple(c for c in CLDR_ORDER if c in tags or c == "other")


def category(lang: str, n: int | float) -> str:
    return Locale.parse(lang.replace("-", "_")).plural_form(n)


def plural_form(lang: str, forms: Sequence[str], n: int | float, cat: str | None = None) -> str:
    """The form of `forms` (written in CLDR order) for the number n, MediaWiki-style."""
    plain = []
    for form in forms:
        m = re.match(r"\s*(\d+)=(.*)\Z", form, re.S)
        if m:
            if cat is None and int(m.group(1)) == n:
                return m.group(2)
            continue
        plain.append(form)
    if not plain:
        return ""
    cat = cat or category(lang, n)
    cats = categories(lang)
    index = cats.index(cat) if cat in cats else len(cats) - 1
    return plain[min(index, len(plain) - 1)]


def localize_digits(lang: str, text: str) -> str:
    """Digits as the language writes them (the optional `digits` message: ten characters, 0 to 9)."""
    digits = messages_of(lang).get("digits", "")
    if len(digits) != 10 or digits == "0123456789":
        return text
    return text.translate(str.maketrans("0123456789", digits))


def resolve(lang: str, text: str, params: Sequence[Any], *, cat: str | None = None, keep: dict[int, str] | None = None) -> str:
    """Substitute `$N` and resolve `{{PLURAL:$N|…}}` in a message text.

    With `cat`, every PLURAL takes the form of that category regardless of the number (used to
    build the per-category tables of bot.render.messages); `keep` maps parameter numbers to text
    left in place of `$N` (e.g. `{n}`)."""
    keep = keep or {}

    def value(i: int):
        if i in keep:
            return keep[i]
        if not 1 <= i <= len(params):
            raise MessageError(f"message needs parameter ${i}: {text!r}")
        return params[i - 1]

    def shown(i: int) -> str:
        v = value(i)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return str(v)
        return localize_digits(lang, str(v))

    def plural(m: re.Match) -> str:
        i = int(m.group(1))
        forms = m.group(2).split("|")
        if cat is not None:
            return plural_form(lang, forms, 0, cat)
        v = value(i)
        try:
            n = float(v) if not isinstance(v, (int, float)) else v
        except (TypeError, ValueError):
            raise MessageError(f"PLURAL needs a number for ${i}, got {v!r}") from None
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        return plural_form(lang, forms, n)

    text = _PLURAL.sub(plural, text)
    return _PARAM.sub(lambda m: shown(int(m.group(1))), text)


def message(lang: str, key: str, *params: Any) -> str:
    """A message in `lang` with its parameters and plurals resolved (English when lang lacks it)."""
    source, text = lookup(lang, key)
    return resolve(source, text, params)


def check_file(path: Path) -> list[str]:
    """Problems of one message file: unreadable, or a PLURAL with more forms than the language has."""
    try:
        data = _read(path)
    except MessageError as exc:
        return [str(exc)]
    return [f"{path}: {p}" for p in _check(path.stem, data)]


def check_file_text(lang: str, text: str) -> list[str]:
    """check_file for a message file's text (for tests and on-wiki previews)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    return _check(lang, {k: v for k, v in data.items() if k != "@metadata"})


def _check(lang: str, data: dict[str, Any]) -> list[str]:
    try:
        n_cats = len(categories(lang))
    except (ValueError, LookupError):
        return [f"Babel does not know the language {lang!r}"]
    problems = []
    for key, text in data.items():
        if not isinstance(text, str):
            problems.append(f"{key}: must be a string")
            continue
        for m in _PLURAL.finditer(text):
            plain = [f for f in m.group(2).split("|") if not re.match(r"\s*\d+=", f)]
            if len(plain) > n_cats:
                problems.append(f"{key}: PLURAL has {len(plain)} forms, {lang} has {n_cats}")
    return problems
