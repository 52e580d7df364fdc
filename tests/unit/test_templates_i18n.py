"""The message-keyed wiki templates (bot/i18n/templates): every language's words from its message file,
a fifth language from a message file alone, parameters escaped but the messages' own markup kept."""
from __future__ import annotations

import json
from types import SimpleNamespace as NS

import pytest

from bot import i18n
from bot.jobs import templates_check
from bot.render.environment import GENERIC_DIR, TEMPLATE_DIR, Markup, Renderer

WIKI_DOCUMENTS = ("newsletter_draft", "newsletter_help", "newsletter_message", "newsletter_page",
                  "newsletter_archive", "newsletter_report", "digest", "feedback_reply", "weekly_report",
                  "status_table")


def links(n):
    return [Markup(f"[[phab:T{i}|T{i}]]") for i in range(1, n + 1)]


def test_every_wiki_document_has_one_message_keyed_template_and_no_per_language_copy():
    for document in WIKI_DOCUMENTS:
        assert (GENERIC_DIR / f"{document}.wiki.j2").is_file(), document
        assert not list(TEMPLATE_DIR.glob(f"{document}.*.wiki.j2")), document


@pytest.mark.parametrize("n,ar,vi", [
    (1, "أُحيلت إلى المهمة [[phab:T1|T1]].", "Đã chuyển tới [[phab:T1|T1]]."),
    (2, "أُحيلت إلى المهمتين [[phab:T1|T1]] و[[phab:T2|T2]].", "Đã chuyển tới [[phab:T1|T1]] và [[phab:T2|T2]]."),
    (3, "أُحيلت إلى المهام [[phab:T1|T1]]، [[phab:T2|T2]] و[[phab:T3|T3]].",
     "Đã chuyển tới [[phab:T1|T1]], [[phab:T2|T2]] và [[phab:T3|T3]]."),
])
def test_feedback_reply_joins_and_counts_the_tasks_the_language_s_way(n, ar, vi):
    r = Renderer()
    assert r.render("feedback_reply", "ar", "wiki", task_links=links(n)) == ar + "\n"
    assert r.render("feedback_reply", "vi", "wiki", task_links=links(n)) == vi + "\n"
    # Czech: one task 'úkolu', more 'úkolů'; English and Korean unchanged from the per-language files.
    assert r.render("feedback_reply", "cs", "wiki", task_links=links(n)).startswith(
        "Předáno do úkolu " if n == 1 else "Předáno do úkolů ")
    assert r.render("feedback_reply", "ko", "wiki", task_links=links(n)).endswith("에 전달했습니다.\n")


@pytest.mark.parametrize("total,expected", [(1, "مستلم واحد"), (2, "مستلمان"), (3, "٣ مستلمين"), (11, "١١ مستلمًا"),
                                            (100, "١٠٠ مستلم")])
def test_arabic_help_counts_recipients_with_cldr_forms_and_eastern_digits(total, expected):
    # The job passes every help value as text (Markup), numbers included.
    text = Renderer().render("newsletter_help", "ar", "wiki", state="sending", approved_by=Markup("[[User:A|A]]"),
                             total=Markup(str(total)), report=Markup("[[R]]"), when=Markup(""), approvers=Markup(""),
                             reason=Markup(""), done=Markup("0"), failed=Markup("0"))
    assert f"({expected})" in text, text


def test_sent_help_mentions_failures_only_when_there_are_some():
    values = dict(state="sent", approved_by=Markup("A"), total=Markup("6"), done=Markup("6"), report=Markup("[[R]]"),
                  when=Markup("on Monday"), approvers=Markup(""), reason=Markup(""))
    r = Renderer()
    assert "failed" not in r.render("newsletter_help", "en", "wiki", failed=Markup("0"), **values)
    assert ", 2 failed and will be retried" in r.render("newsletter_help", "en", "wiki", failed=Markup("2"), **values)
    assert "سُلّمت ٦ من ٦، وفشلت ٢" in r.render("newsletter_help", "ar", "wiki", failed=Markup("2"), **values)


def test_parameters_are_escaped_and_the_message_s_markup_is_not():
    r = Renderer()
    row = NS(link=Markup("[[U]]"), kind="failed", why=None, diff="", created=False, redirect_from="",
             detail="[[Kategorie:X]] {{nobots}}")
    counts = NS(delivered=1, created=0, redirected=0, skipped=0, failed=1, pending=0)
    text = r.render("newsletter_report", "cs", "wiki", marker=Markup("<!-- m -->"), name="Zpravodaj [[x]]",
                    month="prosinec", final=True, updated="6. 12.", counts=counts, rows=[row])
    assert "Zpráva o&nbsp;doručení: Zpravodaj &#91;&#91;x&#93;&#93; – prosinec." in text   # the message's &nbsp; kept
    assert "nepodařilo se (&#91;&#91;Kategorie&#58;X&#93;&#93; &#123;&#123;nobots&#125;&#125;)" in text
    assert "[[Kategorie" not in text and "{{nobots}}" not in text


def test_a_fifth_language_gets_its_own_words_from_a_message_file_alone(tmp_path, monkeypatch):
    monkeypatch.setenv(i18n.ENV_VAR, str(tmp_path))
    (tmp_path / "pl.json").write_text(json.dumps({
        "tpl-newsletter-message-footer": "To wydanie jest też na stronie $1. Listę subskrybentów znajdziesz tu: $2.",
        "tpl-feedback-reply": "Przekazano do {{PLURAL:$2|zadania|zadań|zadań|zadania}} $1.",
        "tpl-feedback-reply-and": "$1 i $2",
        "tpl-digest-unsigned": " (bez podpisu)",
    }), encoding="utf-8")
    r = Renderer()
    message = r.render("newsletter_message", "pl", "wiki", marker=Markup("<!-- m -->"), body=Markup("Treść"),
                       page_link=Markup("[[P]]"), subscribers_link=Markup("[[S]]"))
    assert "<small>To wydanie jest też na stronie [[P]]. Listę subskrybentów znajdziesz tu: [[S]].</small> ~~~~" in message
    assert r.render("feedback_reply", "pl", "wiki", task_links=links(2)) == \
        "Przekazano do zadań [[phab:T1|T1]] i [[phab:T2|T2]].\n"
    comment = NS(marker="k", stars="", time="12:00", author="Ala", in_reply_to="", signed=False, edited=False,
                 task_link="", permalink="http://p", diff_url="http://d", text_wiki=Markup("hej"), cut=False,
                 full_url="")
    digest = r.render("digest", "pl", "wiki", heading="", wiki_code="plwiki",
                      threads=[NS(title="Strona", section="", comments=[comment])])
    assert "'''Ala''' (bez podpisu) ([http" in digest        # what pl lacks is English: " link]"
    assert " link], [" in digest


def test_templates_check_renders_the_message_keyed_templates_for_every_language():
    from tests.unit.test_overrides import make_ctx
    ctx, _ = make_ctx(templates=False)
    report = templates_check.check(ctx)
    out = ctx.out.getvalue()
    assert report.problems == [], report.problems
    for lang in ("ar", "cs", "en", "ko", "vi"):
        assert f"== bot/i18n/templates/weekly_report.wiki.j2 ({lang}) ==" in out
        assert f"== bot/i18n/templates/newsletter_draft.wiki.j2 ({lang}): syntax OK" in out
    assert "الخطط" in out and "Kế hoạch tuần sau:" in out
