"""Phabricator (Herald) webhooks and `/healthz`, served from the bot's own process.

A delivery is a POST whose JSON body holds only PHIDs (the object and its new
transactions); `X-Phabricator-Webhook-Signature` is the hex HMAC-SHA256 of the raw
body with the hook's key. The receiver:

1. refuses anything else with a 4xx before reading more than `max_body_bytes`:
   no or wrong signature (compared in constant time), a body that is too big, not
   JSON, nested deeper than `MAX_JSON_DEPTH` (checked before parsing), or not shaped
   like a delivery;
2. answers at once, without asking Conduit: a non-task object or a delivery whose
   transactions were all seen before (a replay) is acknowledged with 200 and ignored;
   otherwise each new transaction PHID is written to the state store's queue
   (namespace `webhook-queue`) and the answer is **202 once the delivery is durably
   queued**; a standby replica, or a store that cannot take the write, answers 503 so
   that Phabricator retries;
3. a batcher thread waits until deliveries stop arriving for `quiet` seconds (0.5 s; at
   most `max_delay`, 30 s, after the first one, so a burst however long it takes to
   arrive is one batch, and a never-ending stream still syncs every 30 s), then
   handles the whole queue as one batch: one
   `transaction.search` per task (`objectIdentifier` + `constraints.phids` of every
   queued transaction of that task, however many deliveries brought them), drops the
   bot's own transactions (its own task comments never wake it: no loops), and asks the
   scheduler to run the configured jobs (status-sync, feedback) **once** for the batch;
   the scheduler folds a request made during a run into one follow-up run.

Why 202 before the lookup: a burst of 1,000 deliveries used to cost 1,000 lookups and
1,000 run requests, because each delivery was looked up while Phabricator waited. Now
the lookup happens after the answer, so its failure can no longer be a 503 to that
delivery. Nothing is lost by that: the queue is in the state store, so a failed lookup
(Conduit down, a partial answer) leaves the task's transactions queued and the batcher
tries again after `retry_seconds` (doubling, at most 5 minutes) or with the next
delivery; a restart, or another replica taking the lease, handles what is queued; and
status-sync's polling would catch the change anyway. A transaction is marked seen only
once its batch was handled. An object Conduit says does not exist still runs the jobs: it
is most often a task the bot has just lost sight of (made private, moved into a restricted
Space), which must leave the wiki tables at once.

The HTTP server is bounded: at most `max_connections` connections are served at once
(one thread each; the others get an immediate 503 and are closed), each request must
arrive whole within `request_seconds` (not per read: a client sending one byte a second
is cut off), and every error, a broken pipe included, goes to the log, never as a
traceback on stderr. `/healthz` answers only `{"ok": ...}` (200, or 503 when not ok),
unless the request carries `Authorization: Bearer <token>` with the token from the
environment variable named by `webhook.health_token_env`; then it shows the details
(role, lease holder, jobs, runs).
"""
from __future__ import annotations

# One module per part of the receiver: payload.py (signature, limits, the delivery's shape),
# batcher.py (the durable queue and the batches), server.py (the bounded HTTP server).
from bot.webhook.batcher import NS_QUEUE, NS_SEEN, DeliveryHandler, NotLeader
from bot.webhook.payload import SIGNATURE_HEADER, Refused, json_depth, parse_delivery, sign, signature_ok
from bot.webhook.server import WebhookServer

__all__ = ["NS_QUEUE", "NS_SEEN", "SIGNATURE_HEADER", "DeliveryHandler", "NotLeader", "Refused", "WebhookServer",
           "json_depth", "parse_delivery", "sign", "signature_ok"]
