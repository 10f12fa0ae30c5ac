"""``predis bench``: measurements whose output the team reads. Commands, not timed tests."""


def machine() -> str:
    """The line every benchmark's result carries about where it ran."""
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
