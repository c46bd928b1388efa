"""RFC 3161 verification against a trust root: each way a token can be wrong is refused, with its reason.

Tokens come from the local test authority (real DER, real RSA signatures); the
"rogue" authority has its own root CA that the verifier was not told to trust.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from notices import timestamping
from notices.exceptions import TimestampError
from tests.notices.tsa_authority import Authority, CertificateAuthority, serve

DIGEST = timestamping.sha256(b"ledger entry 1")


def _stamp(auth: Authority, digest: bytes = DIGEST) -> bytes:
    """The token the authority answers, taken without the client's own check."""
    answer = timestamping.TimeStampResp.load(auth.respond(timestamping.build_request(digest).dump()))
    return answer["time_stamp_token"].dump()


def _refused(token: bytes, trust, digest: bytes = DIGEST) -> TimestampError:
    with pytest.raises(TimestampError) as err:
        timestamping.verify_token(token, digest, trust)
    return err.value


@pytest.fixture(scope="module")
def root():
    return CertificateAuthority()


def test_good_token_chains_to_the_configured_root(root):
    auth = Authority(root)
    info = timestamping.verify_token(_stamp(auth), DIGEST, root.trust())
    assert "Earwitness Test TSA" in info.tsa_subject and "Earwitness Test Root CA" in info.trust_root
    assert abs((info.gen_time - datetime.now(timezone.utc)).total_seconds()) < 60


def test_token_from_an_untrusted_authority_is_refused(root):
    rogue = Authority(CertificateAuthority("Rogue Root CA"), name="Rogue TSA")
    err = _refused(_stamp(rogue), root.trust())
    assert err.reason == "untrusted"
    assert "Rogue TSA" in str(err) and "Rogue Root CA" in str(err) and "Earwitness Test Root CA" in str(err)


def test_rogue_certificate_copying_the_trusted_names_is_refused(root):
    """A rogue CA that calls itself by the trusted root's name still does not chain."""
    rogue = Authority(CertificateAuthority("Earwitness Test Root CA"))
    assert _refused(_stamp(rogue), root.trust()).reason == "untrusted"


def test_no_trust_root_means_no_accepted_token(root):
    err = _refused(_stamp(Authority(root)), timestamping.Trust(()))
    assert err.reason == "no_trust_root" and "tsa_trust_roots" in str(err)


def test_wrong_message_imprint_is_refused(root):
    token = _stamp(Authority(root))
    err = _refused(token, root.trust(), digest=timestamping.sha256(b"another entry"))
    assert err.reason == "imprint_mismatch"


def test_tampered_time_is_refused(root):
    """The stamped time moved by a day: the signed digest no longer matches the TSTInfo."""
    info = cms.ContentInfo.load(_stamp(Authority(root)))
    signed = info["content"]
    tst = tsp.TSTInfo.load(signed["encap_content_info"]["content"].contents)
    forged = tsp.TSTInfo({**{k: tst[k] for k in ("version", "policy", "message_imprint", "serial_number",
                                                   "nonce")},
                          "gen_time": tst["gen_time"].native - timedelta(days=1)})
    signed["encap_content_info"]["content"] = core.ParsableOctetString(forged.dump())
    err = _refused(info.dump(), root.trust())
    assert err.reason == "bad_signature" and "TSTInfo" in str(err)


def test_tampered_signature_is_refused(root):
    token = bytearray(_stamp(Authority(root)))
    token[-5] ^= 0xFF
    assert _refused(bytes(token), root.trust()).reason == "bad_signature"


def test_signer_certificate_other_than_the_ess_one_is_refused(root):
    """The ESS signing-certificate attribute hashes another certificate than the signer's."""
    other = Authority(root, name="Another TSA")
    auth = Authority(root, ess_cert=other.cert)
    err = _refused(_stamp(auth), root.trust())
    assert err.reason == "signer_mismatch" and "ESS" in str(err)


def test_expired_certificate_is_refused(root):
    now = datetime.now(timezone.utc)
    auth = Authority(root, valid=(now - timedelta(days=400), now - timedelta(days=35)))
    err = _refused(_stamp(auth), root.trust())
    assert err.reason == "cert_expired" and "expired" in str(err)


def test_not_yet_valid_certificate_is_refused(root):
    now = datetime.now(timezone.utc)
    auth = Authority(root, valid=(now + timedelta(days=2), now + timedelta(days=60)))
    err = _refused(_stamp(auth), root.trust())
    assert err.reason == "cert_not_yet_valid" and "valid only from" in str(err)


def test_certificate_without_time_stamping_usage_is_refused(root):
    auth = Authority(root, eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    assert _refused(_stamp(auth), root.trust()).reason == "not_timestamping"
    assert _refused(_stamp(Authority(root, eku=None)), root.trust()).reason == "not_timestamping"


def test_client_refuses_an_untrusted_answer_at_request_time(root):
    rogue = Authority(CertificateAuthority("Rogue Root CA"))
    server, url = serve(rogue)
    try:
        with pytest.raises(TimestampError) as err:
            timestamping.Timestamper(url, root.trust())(DIGEST)
        assert err.value.reason == "untrusted"
    finally:
        server.shutdown()
        server.server_close()


def test_tsa_url_without_trust_roots_is_a_configuration_error(home, monkeypatch):
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__NOTICES__TSA_URL", "http://127.0.0.1:9/tsa")
    settings.configure(home)
    with pytest.raises(TimestampError, match="tsa_trust_roots is empty"):
        timestamping.Timestamper.from_settings()


def test_certificate_issued_by_a_non_ca_is_refused(root):
    """A trusted TSA's own (end-entity) key cannot vouch for another time-stamping certificate."""
    class LeafAsIssuer(CertificateAuthority):
        def __init__(self, leaf: Authority) -> None:
            self.key, self.cert = leaf.key, leaf.cert

    trusted_leaf = Authority(root)
    forged = Authority(LeafAsIssuer(trusted_leaf), name="Sub TSA", carry=[trusted_leaf.cert])
    assert _refused(_stamp(forged), root.trust()).reason == "untrusted"


def test_intermediate_carried_in_the_token_completes_the_chain(root):
    class Intermediate(CertificateAuthority):
        def __init__(self) -> None:
            super().__init__("Earwitness Test Time-Stamping CA")
            now = datetime.now(timezone.utc)
            b = (x509.CertificateBuilder().subject_name(self.cert.subject).issuer_name(root.cert.subject)
                 .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                 .not_valid_before(now - timedelta(days=10)).not_valid_after(now + timedelta(days=1000))
                 .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                 .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                critical=True))
            self.cert = b.sign(root.key, hashes.SHA256())

    mid = Intermediate()
    info = timestamping.verify_token(_stamp(Authority(mid, carry=[mid.cert])), DIGEST, root.trust())
    assert "Earwitness Test Root CA" in info.trust_root
    assert _refused(_stamp(Authority(mid)), root.trust()).reason == "untrusted"   # intermediate not carried
