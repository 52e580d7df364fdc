"""Local sandboxes (MediaWiki farm, ...) for tests and the demo."""
