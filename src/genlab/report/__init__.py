"""The `genlab compare` report: one self-contained HTML page and a metrics.json."""
