"""What a newsletter edition contains, who gets it, and when it may be published.

Pure: no network. The job reads pages and tasks, these functions decide. One module per
responsibility; everything public is importable from here too:

* `editions`: edition ids (`YYYY-MM`) and the period each covers
* `sections`: the edition's sections from the team's tasks, and the tasks a text links to
* `delivery_lists`: a MassMessage delivery list's targets
* `markers`: the draft's status marker (`status=ready send=… force`) and help comment
* `body`: the publishable body of a draft and its hash
* `approvals`: whether the current draft is approved, from its history
* `guards`: what needs `force` (an untouched or "nothing happened" edition)
* `keys`: idempotency keys and the markers that carry them on pages
* `names`: user names and titles as MediaWiki stores them, a page's URL
* `typography`: non-breaking spaces where the language wants them
* `send_times`: send times as written on the wiki and the config's default
"""
from __future__ import annotations

from bot.domain.newsletter.approvals import Approval, Revision, approval
from bot.domain.newsletter.body import body_hash, draft_body
from bot.domain.newsletter.delivery_lists import DeliveryList, parse_delivery_list
from bot.domain.newsletter.editions import Edition, EditionError, parse_edition, previous_edition
from bot.domain.newsletter.guards import forced, says_nothing_happened, untouched
from bot.domain.newsletter.keys import (comment_key, delivery_key, has_edition_marker, has_key_marker, key_marker,
                                        page_key, title_digest)
from bot.domain.newsletter.markers import (DRAFT, READY, STATUS_MARKER, MarkerOptions, draft_status, help_of,
                                           marker_options, safe_comment, set_help, set_status, status_marker,
                                           with_force)
from bot.domain.newsletter.names import normal_title, normal_user, page_url
from bot.domain.newsletter.sections import Section, build_sections, mentioned_task_ids
from bot.domain.newsletter.send_times import (SEND_EXAMPLES, WEEKDAYS, SendTimeError, next_default_send,
                                              parse_default_send, parse_send_time, revision_epoch)
from bot.domain.newsletter.typography import Typography, typeset

__all__ = [
    "DRAFT", "READY", "SEND_EXAMPLES", "STATUS_MARKER", "WEEKDAYS", "Approval", "DeliveryList", "Edition",
    "EditionError", "MarkerOptions", "Revision", "Section", "SendTimeError", "Typography", "approval", "body_hash",
    "build_sections", "comment_key", "delivery_key", "draft_body", "draft_status", "forced", "has_edition_marker",
    "has_key_marker", "help_of", "key_marker", "marker_options", "mentioned_task_ids", "next_default_send",
    "normal_title", "normal_user", "page_key", "page_url", "parse_default_send", "parse_delivery_list",
    "parse_edition", "parse_send_time", "previous_edition", "revision_epoch", "safe_comment",
    "says_nothing_happened", "set_help", "set_status", "status_marker", "title_digest", "typeset", "untouched",
    "with_force",
]
