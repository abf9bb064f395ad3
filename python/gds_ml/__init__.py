"""GDS machine-learning helpers: safe model loading, deterministic training, fixtures and the Query Customer SDK."""
