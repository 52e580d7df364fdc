"""Remember between runs that the bot's account is blocked on a wiki.

A block outlives the run that met it. Without a memory every cycle would send a
write only to have it refused again (and a long-running worker would log the same
refusal every ten minutes). So when a write is refused for a block, the wiki is
marked in the state store; every later run first asks that wiki, and only that
wiki, whether the block is still there (one request). While it is, the adapter
sends no write there; once it is lifted the mark goes and work resumes.
"""
from __future__ import annotations

import logging
from typing import Callable

from bot.errors import BotError
from bot.jobs.base import JobContext, JobReport

log = logging.getLogger(__name__)

NS_BLOCKS = "wiki-blocks"


def run_guarded(func: Callable[[JobContext], JobReport], ctx: JobContext) -> JobReport:
    """Run one job with the block memory around it."""
    problems = _look_again(ctx)
    try:
        report = func(ctx)
    finally:
        _remember(ctx)
    report.problems[:0] = problems
    return report


def _look_again(ctx: JobContext) -> list[str]:
    problems = []
    for code, wiki in ctx.wikis.items():
        mark = ctx.store.get(NS_BLOCKS, code)
        if mark is None and not getattr(wiki, "blocked", None):
            continue
        try:
            reason = wiki.block_reason()
        except BotError as exc:
            # Cannot tell now: stay careful, the block is assumed to hold.
            wiki.blocked = wiki.blocked or (mark or {}).get("reason") or f"wiki {code}: blocked"
            problems.append(f"wiki {code}: cannot check whether the bot is still blocked ({exc}); "
                            f"no edits on {code} this cycle")
            continue
        if reason:
            problems.append(f"{reason}; no edits on {code} until the block ends")
            if mark is None:
                ctx.store.put(NS_BLOCKS, code, {"reason": reason, "since": ctx.clock()})
        elif mark is not None:
            ctx.store.delete(NS_BLOCKS, code)
            log.info("wiki %s: the bot is no longer blocked; editing again", code,
                     extra={"wiki": code, "outcome": "unblocked"})
    return problems


def _remember(ctx: JobContext) -> None:
    for code, wiki in ctx.wikis.items():
        reason = getattr(wiki, "blocked", None)
        try:
            if reason and ctx.store.get(NS_BLOCKS, code) is None:
                ctx.store.put(NS_BLOCKS, code, {"reason": reason, "since": ctx.clock()})
        except BotError as exc:  # the next write is refused again and tells the same
            log.error("wiki %s: cannot remember the block: %s", code, exc, extra={"wiki": code, "outcome": "error"})
