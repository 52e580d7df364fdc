"""The edge: the only modules that import pywikibot, phabricator and requests."""
