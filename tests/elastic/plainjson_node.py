"""Test-only transport node: plain ``application/json`` for OpenSearch-compatible test servers.

osmem-server answers 406 to the 9.x client's ``compatible-with`` media types;
the client's public ``node_class`` option takes this subclass. It also counts
the requests it sends, so tests can check that a sync refreshes explicitly.
"""

from __future__ import annotations

from elastic_transport import Urllib3HttpNode

SENT: list[tuple[str, str]] = []


class PlainJsonNode(Urllib3HttpNode):
    def perform_request(self, method, target, body=None, headers=None, **kwargs):
        if headers is not None:
            headers = headers.copy()
            for name in list(headers.keys()):
                low = name.lower()
                if low == "accept":
                    headers[name] = "application/json"
                elif low == "content-type":
                    headers[name] = ("application/x-ndjson" if "ndjson" in headers[name]
                                     else "application/json")
        SENT.append((method, target))
        return super().perform_request(method, target, body=body, headers=headers, **kwargs)
