"""The feedback job's names in the state store and on the targets, shared by its modules."""
from __future__ import annotations

import logging

# One logger for the whole job: its name is in every log line, as it was before the job was split.
log = logging.getLogger("bot.jobs.feedback")

JOB = "feedback"
CONFLICT_ATTEMPTS = 3

NS_CURSOR = "fb-rc"          # per wiki: {timestamp, rcid}
NS_PAGE = "fb-page"          # per wiki:title: {revid, since}
NS_SEEN = "fb-seen"          # per wiki:title:comment id: [text hashes already queued]
NS_KNOWN = "fb-known"        # per wiki:author|time|text hash of signed comments: moves are not new
NS_QUEUE = "fb-queue"        # per comment key: what to deliver, until every target has it
NS_PARKED = "fb-parked"      # per task T<id> the bot cannot reach: when first met (reported once)
# per wiki:title:section:text hash of a forwarded unsigned comment: {id, author, timestamp}, so that
# an edit of it (known to the diff only by its previous text) is forwarded under its identity.
NS_UNSIGNED = "fb-unsigned"
MARKER_PREFIX = "ambassador-bot feedback:"
