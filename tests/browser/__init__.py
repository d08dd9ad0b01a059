"""Browser tests: one JupyterLab and Chromium for this package (its package-scoped fixtures end with it)."""
