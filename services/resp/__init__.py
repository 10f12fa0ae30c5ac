"""The RESP front end: Redis clients (redis-py, Jedis, redis-cli) talk to the cache unchanged.

Layers, as every service here: the domain is :class:`predis.services.cache.domain.CacheDomain`;
``protocol.py`` and ``replies.py`` read requests and write replies; ``commands/`` is the command
table and its handlers (the thin front end); ``server.py`` the asyncio server bootstrap;
``settings.py`` its configuration. See docs/redis.md.
"""
