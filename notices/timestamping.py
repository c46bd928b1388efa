"""RFC 3161 time-stamps for ledger entries: request a token, verify a token.

Reads ``notices.tsa_url`` (none: no time-stamps), ``notices.tsa_timeout_s`` and
``notices.tsa_cert`` (a PEM certificate to pin, relative to the data home). A
token is the DER ``TimeStampToken`` (CMS ``ContentInfo``) over the SHA-256 of the
ledger entry; :func:`verify_token` checks the imprint, the signed attributes and
the signature with the certificate carried in the token (and the pin, if any).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from notices.exceptions import TimestampError

CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"
_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
           "sha1": hashes.SHA1}


class TimeStampResp(core.Sequence):
    """RFC 3161 TimeStampResp; the token is OPTIONAL (absent when refused), unlike asn1crypto's."""

    _fields = [("status", tsp.PKIStatusInfo),
               ("time_stamp_token", cms.ContentInfo, {"optional": True})]


@dataclass(frozen=True)
class TokenInfo:
    gen_time: datetime
    serial_number: int
    policy: str
    tsa_subject: str


def build_request(digest: bytes, *, nonce: int | None = None) -> tsp.TimeStampReq:
    """A TimeStampReq for a SHA-256 ``digest`` asking for the signer's certificate."""
    if len(digest) != 32:
        raise TimestampError(f"expected a 32-byte SHA-256 digest, got {len(digest)} bytes")
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce if nonce is not None else int.from_bytes(os.urandom(8), "big"),
        "cert_req": True,
    })


def request(digest: bytes, url: str, *, timeout: float = 20.0, cert_pem: bytes | None = None) -> bytes:
    """Ask the authority at ``url`` to time-stamp ``digest``; the verified token's DER."""
    req = build_request(digest)
    http = urllib.request.Request(url, data=req.dump(), method="POST",
                                  headers={"Content-Type": CONTENT_TYPE_QUERY})
    try:
        with urllib.request.urlopen(http, timeout=timeout) as resp:
            body = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise TimestampError(f"time-stamp authority {url} unreachable: {exc}") from exc
    try:
        answer = TimeStampResp.load(body)
        status = answer["status"]["status"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"{url} did not answer a TimeStampResp: {exc}") from exc
    if status not in ("granted", "granted_with_mods"):
        text = answer["status"]["status_string"].native
        raise TimestampError(f"{url} refused the time-stamp: {status} {text or ''}".strip())
    token = answer["time_stamp_token"].dump()
    verify_token(token, digest, cert_pem=cert_pem, nonce=req["nonce"].native)
    return token


def verify_token(token_der: bytes, digest: bytes, *, cert_pem: bytes | None = None,
                 nonce: int | None = None) -> TokenInfo:
    """Check that ``token_der`` time-stamps ``digest`` and is signed by its certificate."""
    try:
        info = cms.ContentInfo.load(token_der)
        if info["content_type"].native != "signed_data":
            raise TimestampError("token is not CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise TimestampError("token does not carry a TSTInfo")
        tst_der = encap["content"].contents
        tst = tsp.TSTInfo.load(tst_der)
        imprint = tst["message_imprint"]
        if imprint["hashed_message"].native != digest:
            raise TimestampError("token's message imprint does not match the entry hash")
        if nonce is not None and tst["nonce"].native != nonce:
            raise TimestampError("token's nonce does not match the request")
        signer = signed["signer_infos"][0]
        certs = [c.chosen for c in signed["certificates"]] if signed["certificates"].native else []
        if not certs:
            raise TimestampError("token carries no certificate")
        cert = x509.load_der_x509_certificate(certs[0].dump())
        if cert_pem is not None:
            pinned = x509.load_pem_x509_certificate(cert_pem)
            if pinned.fingerprint(hashes.SHA256()) != cert.fingerprint(hashes.SHA256()):
                raise TimestampError("token was signed by a certificate other than the pinned one")
        algo = signer["digest_algorithm"]["algorithm"].native
        if algo not in _HASHES:
            raise TimestampError(f"unsupported digest algorithm {algo}")
        attrs = signer["signed_attrs"]
        if not attrs.native:
            raise TimestampError("token has no signed attributes")
        message_digest = next((a["values"][0].native for a in attrs
                               if a["type"].native == "message_digest"), None)
        h = hashes.Hash(_HASHES[algo]())
        h.update(tst_der)
        if message_digest != h.finalize():
            raise TimestampError("token's signed digest does not match its TSTInfo")
        signed_bytes = b"\x31" + attrs.dump()[1:]   # signed over as a SET, not [0] IMPLICIT
        key = cert.public_key()
        sig = signer["signature"].native
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, signed_bytes, padding.PKCS1v15(), _HASHES[algo]())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, signed_bytes, ec.ECDSA(_HASHES[algo]()))
        else:
            raise TimestampError(f"unsupported key type {type(key).__name__}")
    except InvalidSignature as exc:
        raise TimestampError("token signature does not verify") from exc
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise TimestampError(f"malformed time-stamp token: {exc}") from exc
    return TokenInfo(gen_time=tst["gen_time"].native, serial_number=tst["serial_number"].native,
                     policy=tst["policy"].dotted, tsa_subject=cert.subject.rfc4514_string())


class Timestamper:
    """Time-stamps digests with the configured authority; ``None`` from :meth:`from_settings` if none."""

    def __init__(self, url: str, *, timeout: float = 20.0, cert_pem: bytes | None = None) -> None:
        self.url, self.timeout, self.cert_pem = url, timeout, cert_pem

    @classmethod
    def from_settings(cls) -> "Timestamper | None":
        from earwitness.kernel import settings
        from notices import config
        url = config.get("tsa_url")
        if not url:
            return None
        cert = config.get("tsa_cert")
        pem = settings.get().path(cert).read_bytes() if cert else None
        return cls(url, timeout=float(config.get("tsa_timeout_s")), cert_pem=pem)

    def __call__(self, digest: bytes) -> bytes:
        return request(digest, self.url, timeout=self.timeout, cert_pem=self.cert_pem)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def pinned_cert(home: Path) -> bytes | None:
    """The pinned authority certificate, if configured (for verification)."""
    from notices import config
    cert = config.get("tsa_cert")
    return (home / cert).read_bytes() if cert else None
