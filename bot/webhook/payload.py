"""What a delivery must be before anything is queued: signed with the hook's key, small, shallow, well formed."""
from __future__ import annotations

import hashlib
import hmac
import json
import re

SIGNATURE_HEADER = "X-Phabricator-Webhook-Signature"
MAX_JSON_DEPTH = 32                 # a delivery is 3 deep; a deeper body is refused before parsing


def sign(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_ok(key: bytes, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = sign(key, body).encode()
    # compare_digest needs equal types; a non-ASCII header is simply wrong.
    try:
        given = header.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects (brackets inside strings do not count)."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for b in brackets:
        if b in (0x5B, 0x7B):   # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def parse_delivery(body: bytes) -> tuple[str, str, list[str]]:
    """(object type, object PHID, transaction PHIDs) of a webhook body, or Refused(400)."""
    if json_depth(body) > MAX_JSON_DEPTH:
        # json.loads recurses once per level: 30,000 levels raise RecursionError.
        raise Refused(400, f"body nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(400, "body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise Refused(400, "body has no object")
    obj = data["object"]
    kind, phid = obj.get("type"), obj.get("phid")
    if not isinstance(kind, str) or not isinstance(phid, str) or not phid.startswith("PHID-"):
        raise Refused(400, "object has no type or PHID")
    xacts = data.get("transactions", [])
    if not isinstance(xacts, list) or not all(isinstance(x, dict) and isinstance(x.get("phid"), str) for x in xacts):
        raise Refused(400, "transactions must be a list of {phid}")
    return kind, phid, [x["phid"] for x in xacts]
