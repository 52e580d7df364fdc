"""The YAML loader of the config: refuses what no config needs, before building anything.

`StrictLoader` is a `yaml.SafeLoader` that, while it composes the node graph (before
a single Python object is constructed), refuses:

* a duplicate key in a mapping (YAML would keep the last one silently);
* nesting deeper than `MAX_DEPTH`, aliases and anchors included (PyYAML composes
  and constructs recursively: 5,000 levels are a RecursionError);
* a document that would expand to more than `MAX_NODES` nodes through aliases
  (a "billion laughs" alias bomb: a few lines that stand for millions of items);
* an alias to a node that contains it (a recursive structure);
* a scalar longer than `MAX_SCALAR_CHARS`, a key that is not a scalar.

`load_yaml()` also refuses a file larger than `MAX_DOCUMENT_BYTES` without reading
the rest of it. Every refusal is a `Refused` (a `yaml.YAMLError`) carrying the key
path and line, which `bot.settings` turns into one-line `ConfigError`.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from yaml.events import AliasEvent, MappingEndEvent, SequenceEndEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

MAX_DOCUMENT_BYTES = 512 * 1024
MAX_DEPTH = 24
MAX_NODES = 20_000
MAX_SCALAR_CHARS = 4096
_MERGE_TAG = "tag:yaml.org,2002:merge"


class Refused(yaml.YAMLError):
    def __init__(self, key: str, problem: str, mark=None):
        super().__init__(problem)
        self.key, self.problem, self.mark = key, problem, mark

    def one_line(self, path) -> str:
        where = f" (line {self.mark.line + 1})" if self.mark is not None else ""
        return f"{path}: {self.key or '(top)'}: {self.problem}{where}"


def key_path(parts: list) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class StrictLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._path: list = []
        self._depth = 0
        self._sizes: dict[int, tuple[int, int]] = {}    # id(node) -> (expanded nodes, expanded depth)

    def _refuse(self, problem: str, mark=None, key: str | None = None) -> Refused:
        return Refused(key_path(self._path) if key is None else key, problem, mark)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._sizes:
                raise self._refuse(f"the alias *{event.anchor} is inside what it refers to (a recursive structure)",
                                   event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self._refuse(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if id(node) not in self._sizes:
            self._measure(node)
        return node

    def _measure(self, node) -> None:
        if isinstance(node, ScalarNode):
            if len(node.value) > MAX_SCALAR_CHARS:
                raise self._refuse(f"the value is {len(node.value)} characters long (at most {MAX_SCALAR_CHARS})",
                                   node.start_mark)
            self._sizes[id(node)] = (1, 1)
            return
        children = [c for pair in node.value for c in pair] if isinstance(node, MappingNode) else node.value
        measured = [self._sizes[id(c)] for c in children]
        size = 1 + sum(s for s, _ in measured)
        depth = 1 + max((d for _, d in measured), default=0)
        if size > MAX_NODES:
            raise self._refuse(f"expands to more than {MAX_NODES} items through aliases (&anchor/*alias); "
                               f"write the values out", node.start_mark)
        if depth > MAX_DEPTH:
            raise self._refuse(f"nested deeper than {MAX_DEPTH} levels through aliases", node.start_mark)
        self._sizes[id(node)] = (size, depth)

    def compose_sequence_node(self, anchor):
        start = self.get_event()
        tag = start.tag
        if tag is None or tag == "!":
            tag = self.resolve(SequenceNode, None, start.implicit)
        node = SequenceNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        while not self.check_event(SequenceEndEvent):
            self._path.append(len(node.value))
            try:
                node.value.append(self.compose_node(node, len(node.value)))
            finally:
                self._path.pop()
        node.end_mark = self.get_event().end_mark
        return node

    def compose_mapping_node(self, anchor):
        start = self.get_event()
        tag = start.tag
        if tag is None or tag == "!":
            tag = self.resolve(MappingNode, None, start.implicit)
        node = MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        seen: dict[tuple[str, str], int] = {}
        while not self.check_event(MappingEndEvent):
            key = self.compose_node(node, None)
            if not isinstance(key, ScalarNode):
                raise self._refuse("a key must be a plain name, not a list or mapping", key.start_mark)
            if key.tag != _MERGE_TAG:
                ident = (key.tag, key.value)
                if ident in seen:
                    raise self._refuse(f"duplicate key (first on line {seen[ident] + 1}); YAML would silently keep "
                                       f"the last one", key.start_mark, key_path(self._path + [key.value]))
                seen[ident] = key.start_mark.line
            self._path.append(key.value)
            try:
                value = self.compose_node(node, key)
            finally:
                self._path.pop()
            node.value.append((key, value))
        node.end_mark = self.get_event().end_mark
        return node


def read_config_text(path: Path) -> str:
    """The file's text; refuses a file larger than MAX_DOCUMENT_BYTES without reading all of it."""
    with open(path, "rb") as f:
        data = f.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise Refused("(file)", f"is larger than {MAX_DOCUMENT_BYTES // 1024} KiB; a config is a few KiB")
    return data.decode("utf-8")


def load_yaml(text: str):
    """One YAML document, composed by StrictLoader (every check) before it is constructed."""
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
