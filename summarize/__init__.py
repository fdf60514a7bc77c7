"""summarize: batch summarisation and localisation of news articles."""

__version__ = "0.1.0"
