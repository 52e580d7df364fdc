"""Rendering: turning domain objects into wikitext and Phabricator Remarkup.

Everything here is pure (no network, no scheduler); untrusted text goes
through :mod:`bot.render.escape` before it is placed into markup.
"""
