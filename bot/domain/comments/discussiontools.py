"""Comments from DiscussionTools (`discussiontoolspageinfo&prop=threaditemshtml`): their HTML as plain text."""
from __future__ import annotations

from html.parser import HTMLParser

from bot.domain.comments.comment import TASK_RE, Comment
from bot.domain.comments.signatures import SIGNATURE_WINDOW, user_from_link
from bot.domain.comments.text import normalize
from bot.domain.wiki_facts import NS_FILE, NS_TEMPLATE, WikiFacts


class _TextAndLinks(HTMLParser):
    """Plain text of a comment's HTML, remembering where each user link starts."""

    def __init__(self, facts: WikiFacts):
        super().__init__(convert_charrefs=True)
        self.facts = facts
        self.parts: list[str] = []
        self.user_links: list[tuple[int, str]] = []
        self._skip = 0
        self._skip_tag: list | None = None      # [tag, depth] of an element whose text is no text

    @property
    def length(self) -> int:
        return sum(len(p) for p in self.parts)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._skip_tag:
            if tag == self._skip_tag[0]:
                self._skip_tag[1] += 1
            return
        if _not_text(tag, attrs, self.facts):
            # An image, or a link to a missing file or template (a red link): no words of the writer.
            if tag not in _VOID_TAGS:
                self._skip_tag = [tag, 1]
            return
        if tag in ("style", "script"):
            self._skip += 1
        if tag == "a" and attrs.get("title"):
            user = user_from_link(attrs["title"], self.facts)
            if user:
                self.user_links.append((self.length, user))
        if tag in ("p", "dd", "li", "br", "div", "dl", "ul", "ol"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if self._skip_tag:
            if tag == self._skip_tag[0]:
                self._skip_tag[1] -= 1
                if not self._skip_tag[1]:
                    self._skip_tag = None
            return
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and not self._skip_tag:
            self.parts.append(data)


_VOID_TAGS = {"img", "br", "hr", "wbr", "input", "source", "track", "area", "col", "embed", "link", "meta"}


def _not_text(tag: str, attrs: dict, facts: WikiFacts) -> bool:
    if tag == "img" or "mw:File" in (attrs.get("typeof") or "") or tag == "figure":
        return True
    if tag == "a":
        title = attrs.get("title") or ""
        cls = (attrs.get("class") or "").split()
        ns, sep, _ = title.partition(":")
        template_or_file = sep and _namespace_name(ns) in facts.names(NS_TEMPLATE) | facts.names(NS_FILE)
        return bool(template_or_file) and ("new" in cls or "mw-file-description" in cls
                                                         or "image" in cls)
    return False


def _namespace_name(ns: str) -> str:
    return " ".join(ns.replace("_", " ").split()).lower()


def text_from_html(fragment: str, author: str, facts: WikiFacts) -> str:
    """A comment's text from DiscussionTools' HTML, without the signature."""
    parser = _TextAndLinks(facts)
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.parts)
    starts = [pos for pos, user in parser.user_links if user == author and len(text) - pos <= SIGNATURE_WINDOW + 60]
    if starts:
        text = text[:starts[0]]
    return normalize(text)


def comments_from_threaditems(items: list[dict], facts: WikiFacts) -> list[Comment]:
    """Signed comments from `discussiontoolspageinfo&prop=threaditemshtml`, in page order."""
    out: list[Comment] = []

    def walk(nodes, heading, task, parent):
        for node in nodes:
            if node.get("type") == "heading":
                h = normalize(text_from_html(node.get("html", ""), "\0", facts))
                t = TASK_RE.search(h)
                walk(node.get("replies", []), h, int(t.group(1)) if t else None, None)
                continue
            if node.get("type") != "comment":
                continue
            author = node.get("author", "")
            c = Comment(node["id"], author, node.get("timestamp", ""), heading,
                        text_from_html(node.get("html", ""), author, facts), int(node.get("level", 1)),
                        parent, True, task)
            out.append(c)
            walk(node.get("replies", []), heading, task, c.id)

    walk(items, "", None, None)
    return out
