"""validate_cap: the shipped OASIS CAP 1.2 schema, offline, with DTDs and entities refused."""

from __future__ import annotations

from pathlib import Path

from hub.feeds.capschema import validate_cap

DATA = Path(__file__).parents[2] / "data" / "feeds"


def test_real_agency_message_is_valid() -> None:
    # Taiwan Water Resources Agency reservoir-release alert (see tests/data/feeds/README.md).
    assert validate_cap((DATA / "tw-wra-reservoir.cap.xml").read_bytes()) == []


def test_missing_required_element_is_reported_with_its_path() -> None:
    xml = (DATA / "tw-wra-reservoir.cap.xml").read_bytes().replace(b"<scope>Public</scope>", b"")
    errors = validate_cap(xml)
    assert len(errors) == 1
    assert errors[0].startswith("/cap:alert")
    assert "scope" in errors[0]


def test_utc_z_suffix_is_not_cap_12() -> None:
    # CAP 1.2 §3.3.2 forbids "Z"; the schema's pattern requires a numeric offset.
    xml = (
        (DATA / "tw-wra-reservoir.cap.xml")
        .read_bytes()
        .replace(b"<sent>2014-05-14T20:10:00+08:00", b"<sent>2014-05-14T12:10:00Z")
    )
    assert any("cap:sent" in e for e in validate_cap(xml))


def test_bad_enumeration_is_reported() -> None:
    xml = (DATA / "tw-wra-reservoir.cap.xml").read_bytes().replace(b">Moderate<", b">Orange<")
    assert any("cap:severity" in e for e in validate_cap(xml))


def test_entities_and_dtds_are_refused_not_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&b;</identifier></alert>'
    )
    errors = validate_cap(bomb)
    assert errors and errors[0].startswith("forbidden XML construct")


def test_external_entity_is_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>'
    )
    errors = validate_cap(xxe)
    assert errors and "forbidden" in errors[0]
    assert "root:" not in " ".join(errors)


def test_malformed_and_foreign_documents() -> None:
    assert validate_cap(b"<alert")[0].startswith("not well-formed XML")
    assert validate_cap(b"")[0].startswith("not well-formed XML")
    errors = validate_cap(b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>')
    assert "expected {urn:oasis:names:tc:emergency:cap:1.2}alert" in errors[0]


def test_schema_location_hints_and_signatures_are_not_fetched(httpserver) -> None:  # type: ignore[no-untyped-def]
    """A message pointing the validator at a remote schema must not make it fetch anything."""
    httpserver.expect_request("/evil.xsd").respond_with_data("<schema/>")
    hint = (
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'xsi:schemaLocation="urn:oasis:names:tc:emergency:cap:1.2 '
        + httpserver.url_for("/evil.xsd").encode()
        + b'">'
    )
    xml = (DATA / "tw-wra-reservoir.cap.xml").read_bytes()
    xml = xml.replace(b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">', hint)
    signature = (
        b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/>'
        b"<SignatureValue>AAAA</SignatureValue></Signature></alert>"
    )
    assert validate_cap(xml) == []
    # xmlschema checks xmldsig content with its bundled schema (offline): a truncated signature shows.
    errors = validate_cap(xml.replace(b"</alert>", signature))
    assert len(errors) == 1 and "SignedInfo" in errors[0]
    assert httpserver.log == []
