"""Identity, transport security and audit for every service."""
