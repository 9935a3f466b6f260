"""A local certificate authority for a clinic without a PKI, and the rig's server certificate.

Browsers expose cameras and microphones only to secure contexts, and the
token and every event must not cross the clinic's network in the clear, so a
rig that tablets reach needs HTTPS. :func:`ensure_ca` creates, once, a CA
that exists only on the rig (``ca.pem``, its key ``ca-key.pem`` readable by
the owner only); :func:`issue_server_certificate` issues ``server.pem`` and
``server-key.pem`` for the rig's LAN names and addresses from it. Each
tablet trusts ``ca.pem`` once (the service offers it at ``/ca.pem``); the
server certificate can then be re-issued (a new address, or before it
expires) without touching the tablets.

Keys are ECDSA P-256. The server certificate is valid for
:data:`SERVER_VALID_DAYS` days, within the 398 days Apple's and Chrome's
clients accept.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dyadscope.stream.private_files import write_private

CA_VALID_DAYS = 3650
SERVER_VALID_DAYS = 397
CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"
SERVER_CERT, SERVER_KEY = "server.pem", "server-key.pem"


@dataclass(frozen=True)
class Issued:
    """Where the files are, and for which names the server certificate is valid."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    names: tuple[str, ...]
    addresses: tuple[str, ...]
    not_after: dt.datetime


def tls_dir(data_dir: Path) -> Path:
    """Where ``dyadscope tls init`` keeps the CA and the server certificate."""
    return data_dir / "tls"


def ensure_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA in ``folder``, created the first time (an existing one is reused, never replaced)."""
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not a key this tool made")
        return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"DyadScope local CA ({socket.gethostname()})")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(folder / CA_KEY, _key_pem(key))
    write_private(folder / CA_CERT, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def issue_server_certificate(folder: Path, names: list[str], addresses: list[str]) -> Issued:
    """Issue (or re-issue) the server certificate for DNS ``names`` and IP ``addresses`` from the CA."""
    if not names and not addresses:
        raise ValueError("give at least one name (--name) or address (--ip) the tablets will use")
    ips = [ipaddress.ip_address(a) for a in addresses]  # ValueError says which one is not an address
    ca_cert, ca_key = ensure_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    not_after = now + dt.timedelta(days=SERVER_VALID_DAYS)
    common = names[0] if names else addresses[0]
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names] + [x509.IPAddress(ip) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(folder / SERVER_KEY, _key_pem(key))
    write_private(folder / SERVER_CERT, cert.public_bytes(serialization.Encoding.PEM))
    return Issued(
        folder / CA_CERT, folder / SERVER_CERT, folder / SERVER_KEY, tuple(names), tuple(addresses), not_after
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
