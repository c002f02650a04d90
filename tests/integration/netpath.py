"""Network path of namespaces (being written)."""
