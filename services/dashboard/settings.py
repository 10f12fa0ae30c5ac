"""The dashboard's settings, read once from the environment (and ``--listen``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from predis.config import check_tenant
from predis.services.runtime.settings import Env, SettingsError, parse_address
from predis.services.security.settings import is_loopback

DEFAULT_LISTEN = "127.0.0.1:8080"


@dataclass(frozen=True)
class DashboardSettings:
    """
    Attributes:
        listen: HOST:PORT the page and its API are served on (``PREDIS_DASHBOARD_LISTEN`` or
            ``--listen``; port 0 picks a free one).
        tenants: the tenants always shown (``PREDIS_DASHBOARD_TENANTS``, a comma list). The cache
            has no call that lists its tenants, so these are named; more are found in the drift
            service's status when ``discover_tenants`` is on.
        discover_tenants: add the tenants the drift service has seen in the cache's access stream
            (``PREDIS_DASHBOARD_DISCOVER_TENANTS``, on or off).
        max_tenants: most tenants polled, named ones first (``PREDIS_DASHBOARD_MAX_TENANTS``).
        poll_s: seconds between two reads of the suite (``PREDIS_DASHBOARD_POLL_S``).
        history: samples kept per tenant, the oldest dropped first (``PREDIS_DASHBOARD_HISTORY``;
            720 at 5 s is an hour).
        cache_metrics_url: the cache's Prometheus page, scraped each poll for its GET latency
            histogram (``PREDIS_DASHBOARD_CACHE_METRICS``, ``http://HOST:PORT/metrics``; ``predis up``
            sets it to the cache's ``PREDIS_METRICS_LISTEN``). None (unset or ``off``): no read latency
            is charted.
        log_level: ``PREDIS_LOG_LEVEL``.
        call_timeout_s: deadline of each call to the suite.
    """

    listen: str = DEFAULT_LISTEN
    tenants: tuple[str, ...] = ("default",)
    discover_tenants: bool = True
    max_tenants: int = 32
    poll_s: float = 5.0
    history: int = 720
    cache_metrics_url: str | None = None
    log_level: str = "info"
    call_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        parse_address(self.listen, "PREDIS_DASHBOARD_LISTEN")
        if not self.tenants:
            raise SettingsError("PREDIS_DASHBOARD_TENANTS names no tenant")
        for tenant in self.tenants:
            try:
                check_tenant(tenant)
            except ValueError as error:
                raise SettingsError(f"PREDIS_DASHBOARD_TENANTS: {error}") from None
        if self.max_tenants < len(self.tenants):
            raise SettingsError(
                f"PREDIS_DASHBOARD_MAX_TENANTS={self.max_tenants} is below the {len(self.tenants)} tenants "
                "PREDIS_DASHBOARD_TENANTS names"
            )
        if self.poll_s <= 0:
            raise SettingsError(f"PREDIS_DASHBOARD_POLL_S={self.poll_s} is not positive")
        if self.history < 2:
            raise SettingsError(f"PREDIS_DASHBOARD_HISTORY={self.history} is below its minimum 2")
        if self.cache_metrics_url is not None:
            check_metrics_url(self.cache_metrics_url)
        if self.call_timeout_s <= 0:
            raise SettingsError("the dashboard's call timeout must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], listen: str | None = None) -> DashboardSettings:
        env = Env(environ)
        listen = listen or env.text("PREDIS_DASHBOARD_LISTEN", DEFAULT_LISTEN)
        check_dashboard_exposure(listen, env.switch("PREDIS_ALLOW_INSECURE", False))
        if env.text("PREDIS_AUTH", "off").lower() == "required" and not env.text("PREDIS_TOKEN", ""):
            raise SettingsError(
                "PREDIS_AUTH=required: set PREDIS_TOKEN to an admin token for the dashboard's calls "
                "(PREDIS_DATA_DIR=... predis tokens create ops --admin)"
            )
        names = env.text("PREDIS_DASHBOARD_TENANTS", "default")
        poll_s = env.number("PREDIS_DASHBOARD_POLL_S", 5.0, minimum=0.1)
        metrics_url = env.text("PREDIS_DASHBOARD_CACHE_METRICS", "").strip()
        return cls(
            listen=listen,
            tenants=tuple(dict.fromkeys(name.strip() for name in names.split(",") if name.strip())),
            discover_tenants=env.switch("PREDIS_DASHBOARD_DISCOVER_TENANTS", True),
            max_tenants=env.integer("PREDIS_DASHBOARD_MAX_TENANTS", 32, minimum=1),
            poll_s=poll_s,
            history=env.integer("PREDIS_DASHBOARD_HISTORY", 720, minimum=2),
            cache_metrics_url=None if metrics_url.lower() in ("", "off") else metrics_url,
            log_level=env.text("PREDIS_LOG_LEVEL", "info"),
            call_timeout_s=min(2.0, max(0.5, poll_s)),
        )


def check_metrics_url(url: str) -> None:
    """Refuses (SettingsError) a cache metrics address that is not an http(s) URL with a host."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError(
            f"PREDIS_DASHBOARD_CACHE_METRICS={url} is not the URL of the cache's metrics page "
            "(http://HOST:PORT/metrics, where the cache's PREDIS_METRICS_LISTEN serves them)"
        )


def check_dashboard_exposure(listen: str, allow_insecure: bool) -> None:
    """Refuses (SettingsError) to serve the page beyond loopback unless ``PREDIS_ALLOW_INSECURE=on``:
    the page has no login and no TLS of its own, and it shows every tenant's counters."""
    host, _ = parse_address(listen, "PREDIS_DASHBOARD_LISTEN")
    if is_loopback(host) or allow_insecure:
        return
    raise SettingsError(
        f"PREDIS_DASHBOARD_LISTEN={listen} listens beyond this machine: the dashboard has no login and no TLS, "
        "and anyone who can reach it sees every tenant's counters. Listen on loopback and put a proxy with "
        "authentication in front, or set PREDIS_ALLOW_INSECURE=on on a network you trust"
    )
