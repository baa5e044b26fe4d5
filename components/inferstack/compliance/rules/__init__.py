"""Policy rules, one module per service; each module exposes ``RULES``."""
