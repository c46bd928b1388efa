"""RFC 3161 time-stamps for ledger entries: request a token, verify a token against a trust root.

Reads ``notices.tsa_url`` (none: no time-stamps), ``notices.tsa_timeout_s``,
``notices.tsa_trust_roots`` (PEM files of the root certificates a signing
authority must chain to) and ``notices.tsa_cert`` (an optional PEM certificate
to pin on top). A token is the DER ``TimeStampToken`` (CMS ``ContentInfo``) over
the SHA-256 of the ledger entry.

:func:`verify_token` accepts a token only when every link holds, and names the
first that does not (:class:`TimestampError` with a ``reason`` code):

- ``imprint_mismatch``: the token stamps another hash than the entry's;
- ``signer_mismatch``: the ESS signing-certificate attribute (RFC 2634/5035,
  required by RFC 3161 §2.4.1) does not name the certificate that signed;
- ``bad_signature``: the signed attributes, the TSTInfo digest or the signature
  do not verify (a tampered token);
- ``cert_expired`` / ``cert_not_yet_valid``: the authority's certificate was not
  valid at the token's own time (a token stays good after its signer expires);
- ``not_timestamping``: the certificate lacks the critical extended key usage
  id-kp-timeStamping (RFC 3161 §2.3);
- ``untrusted``: the certificate does not chain to a configured trust root
  (path building by ``cryptography.x509.verification`` at the token's time);
- ``no_trust_root``: nothing to chain to: a token is never called good on its own word;
- ``malformed``, ``unsupported``, ``pin_mismatch``.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (Criticality, ExtensionPolicy, PolicyBuilder, Store,
                                            VerificationError)

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
    trust_root: str          # the subject of the configured root the signer chained to


@dataclass(frozen=True)
class Trust:
    """What a token's signer must chain to: the configured roots, and optionally one pinned certificate."""

    roots: tuple[x509.Certificate, ...]
    pin: x509.Certificate | None = None

    @classmethod
    def from_pem(cls, roots_pem: Iterable[bytes], pin_pem: bytes | None = None) -> "Trust":
        roots: list[x509.Certificate] = []
        for pem in roots_pem:
            try:
                roots.extend(x509.load_pem_x509_certificates(pem))
            except ValueError as exc:
                raise TimestampError(f"a trust root file is not PEM certificates: {exc}",
                                     reason="no_trust_root") from exc
        pin = x509.load_pem_x509_certificate(pin_pem) if pin_pem else None
        return cls(tuple(roots), pin)

    @classmethod
    def from_files(cls, roots: Iterable[Path], pin: Path | None = None) -> "Trust":
        def read(p: Path) -> bytes:
            try:
                return Path(p).read_bytes()
            except OSError as exc:
                raise TimestampError(f"time-stamp trust root {p} cannot be read: {exc}",
                                     reason="no_trust_root") from exc
        return cls.from_pem([read(p) for p in roots], read(pin) if pin else None)

    @classmethod
    def from_settings(cls, home: Path) -> "Trust":
        """``notices.tsa_trust_roots`` and ``notices.tsa_cert``, relative to ``home`` unless absolute."""
        from notices import config
        pin = config.get("tsa_cert")
        return cls.from_files([Path(home) / p for p in config.get("tsa_trust_roots")],
                              Path(home) / pin if pin else None)


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


def request(digest: bytes, url: str, trust: Trust, *, timeout: float = 20.0) -> bytes:
    """Ask the authority at ``url`` to time-stamp ``digest``; the token's DER, verified against ``trust``."""
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
    verify_token(token, digest, trust, nonce=req["nonce"].native)
    return token


def _fail(reason: str, message: str) -> TimestampError:
    return TimestampError(message, reason=reason)


def _signer_cert(signed: cms.SignedData, signer: cms.SignerInfo) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The certificate the SignerInfo's ``sid`` names, among those the token carries, and the others."""
    carried = [c.chosen for c in signed["certificates"]] if signed["certificates"].native else []
    if not carried:
        raise _fail("malformed", "token carries no certificate (the request asked for it)")
    sid = signer["sid"]
    match = None
    for c in carried:
        if sid.name == "issuer_and_serial_number":
            if (c.issuer == sid.chosen["issuer"]
                    and c.serial_number == sid.chosen["serial_number"].native):
                match = c
        elif c.key_identifier == sid.chosen.native:
            match = c
    if match is None:
        raise _fail("signer_mismatch", "no certificate in the token matches the signer's identifier")
    others = [x509.load_der_x509_certificate(c.dump()) for c in carried if c is not match]
    return x509.load_der_x509_certificate(match.dump()), others


def _check_ess(attrs: cms.CMSAttributes, cert: x509.Certificate) -> None:
    """The signed ESS signing-certificate(-v2) attribute must hash to the signing certificate."""
    der = cert.public_bytes(serialization.Encoding.DER)
    for a in attrs:
        kind = a["type"].native
        if kind not in ("signing_certificate", "signing_certificate_v2"):
            continue
        first = a["values"][0]["certs"][0]
        algo = first["hash_algorithm"]["algorithm"].native if kind == "signing_certificate_v2" else "sha1"
        if algo not in _HASHES:
            raise _fail("unsupported", f"ESS signing-certificate hash {algo} is not supported")
        h = hashes.Hash(_HASHES[algo]())
        h.update(der)
        if first["cert_hash"].native != h.finalize():
            raise _fail("signer_mismatch", "the ESS signing-certificate attribute names another certificate "
                        f"than the one that signed ({cert.subject.rfc4514_string()}): a swapped certificate")
        serial = first["issuer_serial"]
        if serial.native and serial["serial_number"].native != cert.serial_number:
            raise _fail("signer_mismatch", "the ESS signing-certificate serial number differs from the signer's")
        return
    raise _fail("signer_mismatch", "token has no ESS signing-certificate attribute binding the signer's "
                "certificate (RFC 3161 §2.4.1)")


def _check_signature(signer: cms.SignerInfo, attrs: cms.CMSAttributes, tst_der: bytes,
                     cert: x509.Certificate) -> None:
    algo = signer["digest_algorithm"]["algorithm"].native
    if algo not in _HASHES:
        raise _fail("unsupported", f"unsupported digest algorithm {algo}")
    content_type = next((a["values"][0].native for a in attrs if a["type"].native == "content_type"), None)
    if content_type != "tst_info":
        raise _fail("bad_signature", "the signed content-type attribute is not TSTInfo")
    message_digest = next((a["values"][0].native for a in attrs if a["type"].native == "message_digest"), None)
    h = hashes.Hash(_HASHES[algo]())
    h.update(tst_der)
    if message_digest != h.finalize():
        raise _fail("bad_signature", "token's signed digest does not match its TSTInfo (the time-stamp "
                    "content was altered)")
    signed_bytes = b"\x31" + attrs.dump()[1:]   # signed over as a SET, not [0] IMPLICIT
    key = cert.public_key()
    sig = signer["signature"].native
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if signer["signature_algorithm"].signature_algo == "rsassa_pss":
                params = signer["signature_algorithm"]["parameters"]
                pss_hash = _HASHES[params["hash_algorithm"]["algorithm"].native]()
                key.verify(sig, signed_bytes, padding.PSS(padding.MGF1(pss_hash), params["salt_length"].native),
                           pss_hash)
            else:
                key.verify(sig, signed_bytes, padding.PKCS1v15(), _HASHES[algo]())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, signed_bytes, ec.ECDSA(_HASHES[algo]()))
        else:
            raise _fail("unsupported", f"unsupported key type {type(key).__name__}")
    except InvalidSignature as exc:
        raise _fail("bad_signature", "token signature does not verify with its signer's certificate "
                    "(the token was altered)") from exc


def _check_validity(cert: x509.Certificate, at: datetime) -> None:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    who = cert.subject.rfc4514_string()
    if at > end:
        raise _fail("cert_expired", f"the authority's certificate ({who}) expired on {end.isoformat()}, "
                    f"before the token's time {at.isoformat()}")
    if at < start:
        raise _fail("cert_not_yet_valid", f"the authority's certificate ({who}) is valid only from "
                    f"{start.isoformat()}, after the token's time {at.isoformat()}")


def _check_eku(cert: x509.Certificate) -> None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        ext = None
    if ext is None or list(ext.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not ext.critical:
        raise _fail("not_timestamping", f"the certificate {cert.subject.rfc4514_string()} is not a time-stamping "
                    "certificate (RFC 3161 §2.3: a critical extended key usage with id-kp-timeStamping only)")


def _is_ca(_policy, _cert, ext) -> None:
    if ext is None or not ext.ca:
        raise ValueError("not a CA certificate (basicConstraints cA is not set)")


def _may_sign_certificates(_policy, _cert, ext) -> None:
    if ext is not None and not ext.key_cert_sign:
        raise ValueError("key usage does not allow signing certificates")


# Issuers: a CA by basicConstraints, allowed to sign certificates where it states key usages. Looser than
# the web-PKI profile (time-stamping hierarchies predate it: older roots lack some of its extensions).
_CA_POLICY = (ExtensionPolicy.permit_all()
              .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _is_ca)
              .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _may_sign_certificates))
_EE_POLICY = ExtensionPolicy.permit_all().require_present(x509.ExtendedKeyUsage, Criticality.CRITICAL,
                                                          None)


def _chain(cert: x509.Certificate, carried: list[x509.Certificate], trust: Trust, at: datetime) -> x509.Certificate:
    """Build a path from the signer to a trust root at the token's time; the root reached."""
    if not trust.roots:
        raise _fail("no_trust_root", "no time-stamp trust root is configured (notices.tsa_trust_roots, or "
                    "--trust-root): a token's signer cannot be checked, so the token is not accepted")
    verifier = (PolicyBuilder().store(Store(list(trust.roots))).time(at)
                .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
                .build_client_verifier())
    try:
        chain = verifier.verify(cert, carried).chain
    except VerificationError as exc:
        roots = "; ".join(r.subject.rfc4514_string() for r in trust.roots)
        raise _fail("untrusted", f"the authority's certificate ({cert.subject.rfc4514_string()}, issued by "
                    f"{cert.issuer.rfc4514_string()}) does not chain to a configured trust root ({roots}): "
                    f"{exc}") from exc
    return chain[-1]


def verify_token(token_der: bytes, digest: bytes, trust: Trust, *, nonce: int | None = None) -> TokenInfo:
    """Check that ``token_der`` time-stamps ``digest``, signed by a time-stamping certificate that
    chains to ``trust`` and was valid at the token's time; raises :class:`TimestampError` naming why not."""
    try:
        info = cms.ContentInfo.load(token_der)
        if info["content_type"].native != "signed_data":
            raise _fail("malformed", "token is not CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise _fail("malformed", "token does not carry a TSTInfo")
        tst_der = encap["content"].contents
        tst = tsp.TSTInfo.load(tst_der)
        if tst["message_imprint"]["hashed_message"].native != digest:
            raise _fail("imprint_mismatch", "token's message imprint does not match the entry hash "
                        "(the token belongs to another entry, or the entry was altered)")
        if nonce is not None and tst["nonce"].native != nonce:
            raise _fail("malformed", "token's nonce does not match the request")
        gen_time = tst["gen_time"].native
        if gen_time.tzinfo is None:
            gen_time = gen_time.replace(tzinfo=timezone.utc)
        signer = signed["signer_infos"][0]
        attrs = signer["signed_attrs"]
        if not attrs.native:
            raise _fail("malformed", "token has no signed attributes")
        cert, carried = _signer_cert(signed, signer)
        _check_signature(signer, attrs, tst_der, cert)
        _check_ess(attrs, cert)
        if trust.pin is not None and trust.pin.fingerprint(hashes.SHA256()) != cert.fingerprint(hashes.SHA256()):
            raise _fail("pin_mismatch", "token was signed by a certificate other than the pinned one")
        _check_validity(cert, gen_time)
        _check_eku(cert)
        root = _chain(cert, carried, trust, gen_time)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise _fail("malformed", f"malformed time-stamp token: {exc}") from exc
    return TokenInfo(gen_time=gen_time, serial_number=tst["serial_number"].native,
                     policy=tst["policy"].dotted, tsa_subject=cert.subject.rfc4514_string(),
                     trust_root=root.subject.rfc4514_string())


class Timestamper:
    """Time-stamps digests with the configured authority; ``None`` from :meth:`from_settings` if none."""

    def __init__(self, url: str, trust: Trust, *, timeout: float = 20.0) -> None:
        self.url, self.trust, self.timeout = url, trust, timeout

    @classmethod
    def from_settings(cls) -> "Timestamper | None":
        from earwitness.kernel import settings
        from notices import config
        url = config.get("tsa_url")
        if not url:
            return None
        trust = Trust.from_settings(settings.get().home)
        if not trust.roots:
            raise TimestampError("notices.tsa_url is set but notices.tsa_trust_roots is empty: add the "
                                 "authority's root certificate (see docs/notices.md)", reason="no_trust_root")
        return cls(url, trust, timeout=float(config.get("tsa_timeout_s")))

    def __call__(self, digest: bytes) -> bytes:
        return request(digest, self.url, self.trust, timeout=self.timeout)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
