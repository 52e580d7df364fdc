"""Feedback aimed at a task the bot cannot reach, on the real Phorge: kept, reported once,
delivered once the task can be seen, and never a task number of a non-public task on a wiki."""
from __future__ import annotations

import io

import pytest

from bot.jobs import feedback
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration
CS = "Wikipedie:Growth/Zpětná vazba"
DIGEST = "Wikipedie:Growth/Přehled zpětné vazby"


def test_feedback_for_an_unreachable_task_waits_and_is_delivered_once(wikis, conduit, tmp_path, pywikibot_dir,
                                                                     monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    page_task = conduit.create_task("Feedback", projects=[project])
    hidden = conduit.create_task("Chystaná funkce", projects=[project], view_policy="admin")
    human = wikis.api("cs", wikis.wikis["cs"].human)
    human.edit(CS, "Sem pište zpětnou vazbu.\n", "založení")

    def make():
        set_secrets(monkeypatch, wikis, conduit, ("cs",))
        data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",), tables=[])
        data["feedback"] = {"digest_page": {"wiki": "cs", "title": DIGEST},
                            "pages": [{"wiki": "cs", "title": CS, "task": f"T{page_task}"}]}
        ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
        ctx.out = io.StringIO()
        return ctx

    assert feedback.run(make()).problems == []          # the baseline
    human.edit(CS, human.page_text(CS) + f"\n== Dotaz k T{hidden} ==\nKdy to bude? ~~~~\n\n"
               f"== Dotaz k T999 ==\nA tohle? ~~~~\n", "dotazy")
    first = feedback.run(make())
    assert len(first.problems) == 2 and all("kept and delivered once the task can be reached" in p
                                            for p in first.problems)
    second = feedback.run(make())
    assert second.problems == [] and len(second.held) == 2        # old problems do not fail the job again
    assert conduit.comments(hidden) == []
    digest = human.page_text(DIGEST)
    assert "Kdy to bude?" in digest and f"T{hidden}" not in digest.split("Kdy to bude?")[1][:400]

    conduit.update_task(hidden, actor="admin", view_policy="public")
    third = feedback.run(make())
    assert third.problems == [] and len(third.held) == 1            # T999 still waits
    comments = [c["text"].replace("\u2060", "") for c in conduit.comments(hidden)]
    assert len(comments) == 1 and "Kdy to bude?" in comments[0]
    feedback.run(make())
    assert len(conduit.comments(hidden)) == 1
