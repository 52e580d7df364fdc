"""User names and page titles as MediaWiki stores them, and a page's URL."""
from __future__ import annotations

import unicodedata
import urllib.parse


_DIRECTION_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))


def normal_user(name: str) -> str:
    """A user name as MediaWiki stores it: NFC, no direction marks, spaces, first letter title-cased
    (`ß…` is `Ss…`, as MediaWiki has it, not `SS…`)."""
    name = " ".join(unicodedata.normalize("NFC", name).translate(_DIRECTION_MARKS).replace("_", " ").split())
    return name[:1].title() + name[1:]


def normal_title(title: str) -> str:
    title = " ".join(title.replace("_", " ").split())
    return title[:1].upper() + title[1:]


def page_url(api_url: str, title: str) -> str:
    """The reader's URL of a page, from the wiki's api.php URL."""
    base = api_url[:-len("api.php")] if api_url.endswith("api.php") else api_url.rstrip("/") + "/"
    return base + "index.php?title=" + urllib.parse.quote(normal_title(title).replace(" ", "_"), safe="/:")
