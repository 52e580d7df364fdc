"""ambassador-bot: bridges a product team's Phabricator with the cs and ko Wikipedias."""

__version__ = "0.1.0"
