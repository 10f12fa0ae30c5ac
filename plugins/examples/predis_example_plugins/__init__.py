"""Example Predis plugins, one module per plugin, each published under the ``predis`` entry-point
group (see this distribution's pyproject.toml):

- ``files_origin``: the ``files`` origin, values read from files in a folder.
- ``next_pages``: application prefetch candidates, the next pages after a numbered key.
- ``recent_traffic``: the ``recent-traffic`` adaptation strategy, trained on the newest traffic.
"""
