"""``predis bench``: measurements whose output the team reads. Commands, not timed tests."""


def machine() -> str:
    """The line every benchmark's result carries about where it ran."""
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def budget_env(budget: int) -> dict[str, str]:
    """The cache's memory budget as settings, its largest value the quarter of it that
    CacheSettings allows (a tiny demo or bench budget is below the default maximum value)."""
    return {"PREDIS_CACHE_MEMORY_BYTES": str(budget), "PREDIS_CACHE_MAX_VALUE_BYTES": str(budget // 4)}
