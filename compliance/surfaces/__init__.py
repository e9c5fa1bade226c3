"""One module per surface. Each registers its checks with :func:`compliance.registry.check`."""
