"""The ROI dashboard: a web page over a running suite.

``poller.py`` reads the suite through the SDK every few seconds into ``history.py``'s bounded
series; ``roi.py`` turns measured counts and the user's prices into money; ``web.py`` serves the
JSON API and the page (``static/``); ``server.py`` runs it as ``predis dashboard``.
"""
