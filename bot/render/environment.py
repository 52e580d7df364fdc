"""The Jinja2 environment: strict, escaping every inserted value for its markup.

Templates are named `<document>.<lang>.<markup>.j2` (e.g. `status_table.cs.wiki.j2`).
Every value printed with `{{ … }}` is escaped for the template's markup unless a
filter of ours marked it as already-safe markup, so a forgotten filter can never
let a task title inject wikitext.
"""
from __future__ import annotations

import logging
from pathlib import Path

import jinja2

from bot.render import messages
from bot.render.escape import remarkup_inline, wikilink, wikitext_inline

TEMPLATE_DIR = Path(__file__).resolve().parent.parent.parent / "templates"
# Language-neutral templates whose words are message keys (`{{ "table-task"|msg(lang) }}`): used for a
# language that has a message file but no `<document>.<lang>.<markup>.j2` of its own.
GENERIC_DIR = Path(__file__).resolve().parent.parent / "i18n" / "templates"
NBSP = "&nbsp;"
log = logging.getLogger(__name__)
_warned: set[tuple[str, str, str]] = set()


class Markup(str):
    """Text that is already valid markup for the target (produced by our own filters)."""


def _finalizer(escape):
    def finalize(value):
        if isinstance(value, Markup):
            return value
        if value is None:
            raise jinja2.UndefinedError("a template printed None")
        return escape(str(value))
    return finalize


def make_environment(markup: str, template_dir: Path = TEMPLATE_DIR) -> jinja2.Environment:
    escape = {"wiki": wikitext_inline, "remarkup": remarkup_inline}[markup]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(template_dir), str(GENERIC_DIR)]),
        undefined=jinja2.StrictUndefined,
        finalize=_finalizer(escape),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        date=local_date,
        status=lambda s, lang: messages.status_label(lang, s),
        priority=lambda p, lang: messages.priority_label(lang, p),
        tasklink=task_link if markup == "wiki" else lambda t: Markup(f"T{int(t.id)}"),
        plural=lambda n, table, lang: messages.plural(getattr(messages, table), lang, int(n)),
        msg=_message_filter(escape),
        wikilink=lambda title, text=None: Markup(wikilink(str(title), text)),
    )
    return env


def _message_filter(escape):
    """`{{ "key"|msg(lang, p1, …) }}`: a message of bot/i18n as markup, its parameters escaped.

    The message text is ours (the message files) and is markup, as the words of a per-language
    template were (`o&nbsp;něj`, `''`); a parameter is data and is escaped for the markup unless
    one of our filters already made it markup. Numbers stay numbers, for PLURAL and the
    language's digits."""
    def message(key, lang, *params):
        shown = [p if isinstance(p, (Markup, int, float)) else escape(str(p)) for p in params]
        return Markup(messages.msg(lang, str(key), *shown))
    return message


def local_date(epoch: int, lang: str, tz: str) -> Markup:
    """A date in the wiki's language and time zone, by the language's `date-format` message,
    e.g. `24.&nbsp;11.&nbsp;2026` on cs (Czech typography keeps a date on one line: the cs
    pattern holds no-break spaces), `2026년 11월 24일` on ko."""
    text = messages.date_text(int(epoch), lang, tz)
    text = text.replace("\u00a0", NBSP).replace("\u202f", NBSP)
    return Markup(text.replace("<", "").replace("{", ""))


def task_link(task) -> Markup:
    return Markup(f"[[phab:T{int(task.id)}|T{int(task.id)}]]")


class Renderer:
    """Renders named documents for a language; one environment per markup."""

    def __init__(self, template_dir: Path = TEMPLATE_DIR):
        self._envs = {m: make_environment(m, template_dir) for m in ("wiki", "remarkup")}

    def render(self, document: str, lang: str, markup: str, *, override_source: str | None = None,
               **context) -> str:
        """Render `document`; with `override_source`, render that on-wiki template instead.

        An override is untrusted: it runs sandboxed (bot.render.overrides) and any failure
        raises TemplateOverrideError, after which the caller renders the file template.
        """
        if override_source is not None:
            from bot.render.overrides import render_override
            return render_override(override_source, markup, dict(context, lang=lang))
        env = self._envs[markup]
        # The language's own template, else the message-keyed one, else English's (warned once).
        template = env.select_template([f"{document}.{lang}.{markup}.j2", f"{document}.{markup}.j2",
                                        f"{document}.en.{markup}.j2"])
        if template.name == f"{document}.en.{markup}.j2" and lang != "en" and (document, lang, markup) not in _warned:
            _warned.add((document, lang, markup))
            log.warning("no template %s.%s.%s; using the English one", document, lang, markup,
                        extra={"outcome": "template-fallback"})
        return template.render(lang=lang, **context)
