"""Comments in the order of their threads, as a reader meets them on the page."""
from __future__ import annotations


def thread_order(comments: list, *, key=lambda c: c) -> list:
    """`comments` (any objects; `key` gives each its Comment) in the order of their threads:
    grouped by section (a thread, as DiscussionTools calls it), threads in the order of their first
    comment, each reply right after its parent and the replies before it, siblings by time."""
    groups: dict[str, list] = {}
    for item in comments:
        groups.setdefault(key(item).section, []).append(item)
    out = []
    for section_items in sorted(groups.values(), key=lambda g: min((key(i).timestamp, key(i).id) for i in g)):
        ids = {key(i).id for i in section_items}
        children: dict[str | None, list] = {}
        for item in section_items:
            parent = key(item).parent if key(item).parent in ids else None
            children.setdefault(parent, []).append(item)
        for kids in children.values():
            kids.sort(key=lambda i: (key(i).timestamp, key(i).id))
        done: set[int] = set()

        def walk(parent_id, depth):
            for item in children.get(parent_id, []):
                if id(item) in done:
                    continue
                done.add(id(item))
                out.append((item, depth))
                walk(key(item).id, depth + 1)
        walk(None, 0)
        out.extend((i, 0) for i in section_items if id(i) not in done)   # a cycle of ids: never lost
    return out
