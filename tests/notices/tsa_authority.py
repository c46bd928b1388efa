"""A stand-in RFC 3161 time-stamp authority on 127.0.0.1: real HTTP, real DER, real signatures.

:class:`CertificateAuthority` is a root CA (self-signed, with the extensions a web-PKI
path builder wants); :class:`Authority` holds a time-stamping certificate issued by
one (its own, unless given another: a "rogue" CA the verifier does not trust). It
parses each TimeStampReq, builds a TSTInfo over the request's imprint and nonce,
and signs it as CMS SignedData with the ESS signing-certificate-v2 attribute.

Knobs for the refusal tests: ``refuse=True`` answers every request with status
``rejection``; ``valid`` moves the certificate's validity window (expired, not yet
valid); ``eku`` replaces its extended key usage; ``ess_cert`` names another
certificate's hash in the ESS attribute (a swapped signer certificate); ``carry`` adds
intermediate certificates to the token.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from notices.timestamping import TimeStampResp, Trust


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Earwitness tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class CertificateAuthority:
    """A root CA that issues time-stamping certificates."""

    def __init__(self, name: str = "Earwitness Test Root CA") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(timezone.utc)
        pub = self.key.public_key()
        self.cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(pub).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=365)).not_valid_after(now + timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def trust(self) -> Trust:
        return Trust((self.cert,))

    def issue(self, key, cn: str, *, valid: tuple[datetime, datetime], eku: list | None) -> x509.Certificate:
        b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(valid[0]).not_valid_after(valid[1])
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False))
        if eku is not None:
            b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
        return b.sign(self.key, hashes.SHA256())


class Authority:
    def __init__(self, ca: CertificateAuthority | None = None, *, refuse: bool = False,
                 name: str = "Earwitness Test TSA", valid: tuple[datetime, datetime] | None = None,
                 eku: list | None = (ExtendedKeyUsageOID.TIME_STAMPING,),
                 ess_cert: x509.Certificate | None = None, carry: list[x509.Certificate] = ()) -> None:
        self.refuse = refuse
        self.ca = ca or CertificateAuthority()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(timezone.utc)
        self.cert = self.ca.issue(self.key, name, valid=valid or (now - timedelta(days=1), now + timedelta(days=30)),
                                  eku=list(eku) if eku is not None else None)
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.ess_cert = ess_cert or self.cert
        self.carry = [ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in carry]
        self.serial = 0
        self.requests = 0

    @property
    def root_pem(self) -> bytes:
        return self.ca.pem

    def trust(self) -> Trust:
        return self.ca.trust()

    def respond(self, body: bytes) -> bytes:
        self.requests += 1
        if self.refuse:
            return TimeStampResp({"status": {"status": "rejection",
                                             "status_string": ["policy refuses"]}}).dump()
        req = tsp.TimeStampReq.load(body)
        self.serial += 1
        tst = tsp.TSTInfo({
            "version": "v1", "policy": "1.3.6.1.4.1.99999.1",
            "message_imprint": req["message_imprint"], "serial_number": self.serial,
            "gen_time": datetime.now(timezone.utc).replace(microsecond=0),
            "nonce": req["nonce"].native,
        })
        tst_der = tst.dump()
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        ess_der = self.ess_cert.public_bytes(serialization.Encoding.DER)
        acert = ax509.Certificate.load(cert_der)
        signed_attrs = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
            {"type": "signing_certificate_v2",
             "values": [{"certs": [{"cert_hash": hashlib.sha256(ess_der).digest()}]}]},
        ])
        signature = self.key.sign(b"\x31" + signed_attrs.dump()[1:], padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": acert.issuer, "serial_number": acert.serial_number}}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": signature,
        })
        signed = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info",
                                   "content": core.ParsableOctetString(tst_der)},
            "certificates": [acert, *self.carry],
            "signer_infos": [signer],
        })
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
        return TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


def serve(authority: Authority) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            out = authority.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/tsa"
