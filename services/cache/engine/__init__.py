"""The cache engine: storage, index and eviction policy, with no gRPC inside.

The cache service and the replay tool both run this code.
"""
