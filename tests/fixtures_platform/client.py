"""A tiny HTTP client for the platform tests: status, headers and body, never raising on 4xx/5xx."""

import json
import urllib.error
import urllib.request


class Http:
    """Tiny client: status, headers and body without raising on 4xx/5xx."""

    def __init__(self, base):
        self.base = base

    def get(self, path, headers=None, method="GET"):
        req = urllib.request.Request(self.base + path, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()

    def json(self, path):
        status, _, body = self.get(path)
        return status, json.loads(body)
