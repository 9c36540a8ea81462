"""The HTTP edge: what every request passes through before a route sees it."""
