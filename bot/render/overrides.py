"""On-wiki template overrides: Jinja templates written by the community, rendered as untrusted code.

An override is any wiki user's text, so it gets what a template needs and nothing more:

* Jinja2's immutable sandbox, further narrowed: the data are plain dicts, lists,
  strings and numbers (`to_plain`), a dotted name reads a dict key and nothing
  else (no Python attribute and no method of any value, so `''.__class__` or
  `x.items` are refused), and the only global is the sandbox's bounded `range`;
* every printed value is escaped for the target markup by the same finalizer as
  the file templates, so only links made by our own filters stay markup;
* it runs in a forked child process with a wall-clock deadline, a memory ceiling
  and an output limit; a template that loops for ever, recurses or doubles a
  string until memory runs out is stopped there, never in the bot.

Every failure raises `TemplateOverrideError` with one line saying what went
wrong (and where, for syntax errors); the caller renders the file template
instead and reports the line.

Escaping covers the values, not the template's own literal text, so what an
override renders is checked too (`check_output`): it may not add what the file
template does not have on the same data -- signature tildes, {{nobots}}/{{bots}},
the bot's own marker comments, categories (wikitext); mentions, embeds and object
references (Remarkup). Which override pages are used at all (protection, template
editors), and the memory of failed ones, is bot.jobs.templates_check's business.
"""
from __future__ import annotations

import dataclasses
import html
import multiprocessing
import re
from collections.abc import Mapping
from typing import Any

import jinja2
import mwparserfromhell
from jinja2 import nodes
from jinja2.runtime import LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from bot.errors import BotError
from bot.render import messages
from bot.render.environment import Markup, _finalizer, _message_filter, local_date
from bot.render.escape import remarkup_inline, wikitext_inline

MAX_SOURCE_CHARS = 100_000
MAX_OUTPUT_CHARS = 200_000
RENDER_SECONDS = 3.0
# Extra address space the child may allocate beyond what it inherited from the bot.
MEMORY_HEADROOM = 256 * 1024 * 1024
_LOOP_ATTRIBUTES = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth",
                              "depth0", "previtem", "nextitem", "cycle", "changed"})
_SOURCE_WRAPPERS = (re.compile(r"<syntaxhighlight\b[^>]*>\n?(.*?)</syntaxhighlight>", re.S | re.I),
                    re.compile(r"<source\b[^>]*>\n?(.*?)</source>", re.S | re.I),
                    re.compile(r"<pre\b[^>]*>\n?(.*?)</pre>", re.S | re.I))


class TemplateOverrideError(BotError):
    """An on-wiki template could not be used; the message is one line for the status page."""


def extract_source(page_text: str) -> str:
    """The template inside an override page.

    Ambassadors may wrap the template in <syntaxhighlight>, <source> or <pre> so that the
    page displays as code instead of transcluding `{{ … }}` as wiki templates; the first such
    block is the template. Otherwise the whole page is.
    """
    for pattern in _SOURCE_WRAPPERS:
        m = pattern.search(page_text)
        if m:
            return m.group(1)
    return page_text


def to_plain(value: Any) -> Any:
    """Our objects as the plain data an override may see: dicts, lists, str, numbers, bools, None."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value  # Markup is a str and stays Markup
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [to_plain(v) for v in items]
    raise TypeError(f"an on-wiki template may only be given plain data, not {type(value).__name__}")


class _PlainSandbox(ImmutableSandboxedEnvironment):
    """A sandbox where a dotted name is a dict lookup and nothing else."""

    def is_safe_attribute(self, obj, attr, value) -> bool:
        # The `attr` filter and the sandbox's own getattr ask here.
        return isinstance(obj, LoopContext) and attr in _LOOP_ATTRIBUTES

    def getattr(self, obj, attribute):
        if isinstance(obj, Undefined):
            return obj._fail_with_undefined_error()
        if isinstance(obj, dict):
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        if isinstance(obj, LoopContext) and attribute in _LOOP_ATTRIBUTES:
            return getattr(obj, attribute)
        raise SecurityError(f"{_what(obj)} has no field {attribute!r}: on-wiki templates may read only "
                            f"the fields of the data they are given")

    def getitem(self, obj, argument):
        if isinstance(obj, Undefined):
            return obj._fail_with_undefined_error()
        if isinstance(obj, dict):
            return obj[argument] if argument in obj else self.undefined(obj=obj, name=argument)
        if isinstance(obj, (list, str)) and isinstance(argument, (int, slice)):
            try:
                return obj[argument]
            except IndexError:
                return self.undefined(obj=obj, name=argument)
        if isinstance(argument, str):
            return self.getattr(obj, argument)
        raise SecurityError(f"{_what(obj)} cannot be indexed with {type(argument).__name__}")

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "*" and isinstance(right, int) and isinstance(left, (str, list)) or \
                operator == "*" and isinstance(left, int) and isinstance(right, (str, list)):
            seq, times = (left, right) if isinstance(right, int) else (right, left)
            if len(seq) * max(times, 0) > MAX_OUTPUT_CHARS:
                raise SecurityError(f"repeating a value {times} times would exceed {MAX_OUTPUT_CHARS} characters")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 1000:
            raise SecurityError(f"exponent {right} is too large")
        return super().call_binop(context, operator, left, right)


def _what(obj) -> str:
    if isinstance(obj, LoopContext):
        return "loop"
    return {str: "a text value", int: "a number", float: "a number", bool: "a yes/no value",
            list: "a list"}.get(type(obj), "this value" if not isinstance(obj, Markup) else "a link")


def _plural(n, table: str, lang: str) -> str:
    forms = getattr(messages, str(table), None) if re.fullmatch(r"[A-Z][A-Z_]*", str(table)) else None
    if not (isinstance(forms, dict) and forms and all(isinstance(v, dict) and "other" in v for v in forms.values())):
        raise SecurityError(f"unknown plural table {table!r}")
    return messages.plural(forms, lang, int(n))


def _tasklink(markup: str):
    def link(task) -> Markup:
        task_id = task.get("id") if isinstance(task, dict) else task
        if isinstance(task_id, bool) or not isinstance(task_id, (int, str)) or not str(task_id).isdigit():
            raise SecurityError(f"tasklink needs a task or a task number, got {_what(task_id)}")
        n = int(task_id)
        return Markup(f"[[phab:T{n}|T{n}]]" if markup == "wiki" else f"T{n}")
    return link


def make_sandbox(markup: str) -> jinja2.Environment:
    escape = {"wiki": wikitext_inline, "remarkup": remarkup_inline}[markup]
    env = _PlainSandbox(
        loader=None,
        undefined=jinja2.StrictUndefined,
        finalize=_finalizer(escape),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals = {"range": env.globals["range"]}  # no cycler/joiner/namespace/lipsum/dict
    env.filters.update(
        date=local_date,
        status=lambda s, lang: messages.status_label(lang, str(s)),
        priority=lambda p, lang: messages.priority_label(lang, int(p)),
        tasklink=_tasklink(markup),
        plural=_plural,
        # So that the message-keyed file templates (bot/i18n/templates) copied on-wiki work unchanged.
        msg=_message_filter(escape),
    )
    return env


def check_source(source: str) -> None:
    """Refuse an override before rendering: too long, or not a Jinja template (syntax error)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateOverrideError(f"the template is {len(source)} characters long; the limit is {MAX_SOURCE_CHARS}")
    try:
        tree = make_sandbox("wiki").parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateOverrideError(f"syntax error on line {exc.lineno}: {_one_line(exc.message)}") from None
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        raise TemplateOverrideError(f"line {node.lineno}: an on-wiki template cannot include, import or extend "
                                    f"other templates")


def render_override(source: str, markup: str, context: dict, *, timeout: float | None = None,
                    max_chars: int | None = None) -> str:
    """Render an untrusted template with plain `context`; raise TemplateOverrideError on any failure."""
    check_source(source)
    plain = to_plain(context)
    timeout = RENDER_SECONDS if timeout is None else timeout
    max_chars = MAX_OUTPUT_CHARS if max_chars is None else max_chars
    methods = multiprocessing.get_all_start_methods()
    mp = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receiver, sender = mp.Pipe(duplex=False)
    child = mp.Process(target=_child, args=(sender, source, markup, plain, max_chars), daemon=True,
                       name="template-override")
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise TemplateOverrideError(f"rendering took longer than {timeout:g} s (a loop that does not end?); "
                                        f"stopped")
        try:
            outcome, text = receiver.recv()
        except EOFError:
            raise TemplateOverrideError("the renderer stopped without an answer (out of memory?)") from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if outcome != "ok":
        raise TemplateOverrideError(text)
    return text


def _child(conn, source: str, markup: str, context: dict, max_chars: int) -> None:
    """Runs in the child process: render, send ("ok", text) or ("error", one line)."""
    try:
        _limit_memory()
        template = make_sandbox(markup).from_string(source)
        parts: list[str] = []
        size = 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > max_chars:
                conn.send(("error", f"the output is longer than {max_chars} characters; stopped"))
                return
            parts.append(chunk)
        conn.send(("ok", "".join(parts)))
    except MemoryError:
        conn.send(("error", "rendering needed more memory than allowed; stopped"))
    except RecursionError:
        conn.send(("error", "a macro calls itself too deeply; stopped"))
    except SecurityError as exc:
        conn.send(("error", f"not allowed: {_one_line(exc)}"))
    except jinja2.UndefinedError as exc:
        conn.send(("error", f"undefined value: {_one_line(exc)}"))
    except jinja2.TemplateSyntaxError as exc:
        conn.send(("error", f"syntax error on line {exc.lineno}: {_one_line(exc.message)}"))
    except jinja2.TemplateError as exc:
        conn.send(("error", f"{type(exc).__name__}: {_one_line(exc)}"))
    except Exception as exc:  # untrusted code: any error of its own is a template error, reported
        conn.send(("error", f"{type(exc).__name__}: {_one_line(exc)}"))
    finally:
        conn.close()


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[0])
        ceiling = pages * resource.getpagesize() + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no rlimit: the deadline and the output limit still hold


def _one_line(value) -> str:
    text = " ".join(str(value).split())
    return text[:300]


# -- what a rendering may contain ------------------------------------------------------------------

# Names of the Category namespace known without asking the wiki (canonical, cs, ko); the
# caller adds the wiki's own names and aliases (siteinfo) when it has them.
CATEGORY_NAMES = frozenset({"category", "kategorie", "분류"})
_SIGNATURE_RE = re.compile(r"~~~")
_LINK_TARGET_RE = re.compile(r"\[\[([^\[\]|\n]*)")
_TEMPLATE_NAME_RE = re.compile(r"\{\{\s*([^{}|\n]*?)\s*(?=[|}]|$)")
_COMMENT_RE = re.compile(r"<!--(.*?)(?:-->|\Z)", re.S)
_MENTION_RE = re.compile(r"(?<![\w@])@([a-zA-Z0-9._-]*[a-zA-Z0-9_-])")
_EMBED_RE = re.compile(r"\{\s*((?:[A-Za-z]{1,3}[0-9]+|PHID-[A-Za-z]{4}-\w+))(?:[,\s][^{}]*)?\}")
_REFERENCE_RE = re.compile(r"(?<![\w#-])([A-Z][1-9][0-9]*|PHID-[A-Z]{4}-\w+|r[A-Z]{1,32}(?:[0-9a-f]+)?)(?!\w)")
_MARKER_WORD_RE = re.compile(r"ambassador[\s_-]*bot", re.I)


def output_features(text: str, markup: str, category_names=CATEGORY_NAMES) -> set[tuple[str, str]]:
    """What in a rendering can act beyond showing text: (kind, detail) pairs.

    wikitext: signature tildes, bot-exclusion and subst: templates, comments naming the bot (its
    markers), categories (a `[[Category:` link, not `[[:Category:`, in any spelling the wiki accepts);
    Remarkup: the bot's marker words, @mentions, {F1}-style embeds and object references (T1, P1, …).
    """
    found: set[tuple[str, str]] = set()
    if markup == "remarkup":
        found |= {("marker", "ambassador-bot")} if _MARKER_WORD_RE.search(text) else set()
        found |= {("mention", "@" + m.group(1).lower()) for m in _MENTION_RE.finditer(text)}
        found |= {("embed", "{" + m.group(1).upper() + "}") for m in _EMBED_RE.finditer(text)}
        found |= {("reference", m.group(1)) for m in _REFERENCE_RE.finditer(text)}
        return found
    if _SIGNATURE_RE.search(text):
        found.add(("signature", "~~~"))
    code = mwparserfromhell.parse(text)
    names = {str(t.name) for t in code.filter_templates(recursive=True)}
    names |= {m.group(1) for m in _TEMPLATE_NAME_RE.finditer(text)}
    for name in names:
        plain = " ".join(html.unescape(name).replace("_", " ").split()).lower()
        parts = [p.strip() for p in plain.split(":")]
        if parts[0] in ("subst", "safesubst"):
            found.add(("template", f"{{{{{parts[0]}:}}}}"))
        if parts[-1] in ("nobots", "bots"):
            found.add(("template", f"{{{{{parts[-1]}}}}}"))
    comments = [str(c.contents) for c in code.filter_comments(recursive=True)]
    comments += [m.group(1) for m in _COMMENT_RE.finditer(text)]
    if any(_MARKER_WORD_RE.search(c) for c in comments):
        found.add(("marker", "<!-- ambassador-bot: -->"))
    if re.search(r"<!--(?:(?!-->).)*\Z", text, re.S):
        found.add(("comment", "<!-- without -->"))
    categories = {" ".join(n.replace("_", " ").split()).casefold() for n in category_names}
    targets = {str(link.title) for link in code.filter_wikilinks(recursive=True)}
    targets |= {m.group(1) for m in _LINK_TARGET_RE.finditer(text)}
    for target in targets:
        # MediaWiki decodes entities and reads _ as space before it splits off the namespace.
        plain = " ".join(html.unescape(target).replace("_", " ").split())
        if plain.startswith(":") or ":" not in plain:
            continue
        prefix, _, rest = plain.partition(":")
        if prefix.strip().casefold() in categories:
            found.add(("category", f"[[{prefix.strip()}:{rest.strip()}]]"))
    return found


_WHAT = {"signature": "signature tildes", "template": "a template the bot may not write",
         "marker": "the bot's marker", "comment": "an unclosed comment", "category": "a category",
         "mention": "a mention", "embed": "an embed", "reference": "an object reference"}


def check_output(text: str, markup: str, reference: str | None = None, *,
                 category_names=CATEGORY_NAMES) -> None:
    """Raise TemplateOverrideError when `text` contains what `reference` (the file template's
    rendering of the same data) does not; without a reference, when it contains any of it."""
    extra = output_features(text, markup, category_names)
    if reference is not None:
        extra -= output_features(reference, markup, category_names)
    if extra:
        kind, detail = sorted(extra)[0]
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        where = "the file template does not have" if reference is not None else "not allowed"
        raise TemplateOverrideError(f"the rendering adds {_WHAT[kind]} {_one_line(detail)[:80]!r}{more}, which "
                                    f"{where}")
