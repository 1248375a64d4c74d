"""Validate CAP 1.2 XML against the OASIS schema shipped beside this module, offline and without entities."""

from __future__ import annotations

import functools
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
import xmlschema

CAP12_NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD_PATH = Path(__file__).with_name("CAP-v1.2.xsd")
MAX_ERRORS = 20  # enough to diagnose a bad message without flooding a log line


@functools.cache
def cap_schema() -> xmlschema.XMLSchema:
    """The compiled OASIS CAP 1.2 schema, loaded once on first use (never at import time).

    allow="sandbox" keeps the loader inside this folder and defuse="always" parses the XSD itself
    with xmlschema's safe parser, so compiling the schema can never reach the network.
    """
    return xmlschema.XMLSchema(str(XSD_PATH), allow="sandbox", defuse="always")


def parse_cap_xml(xml: bytes) -> Element:
    """Parse untrusted XML bytes with DTDs, entities and external references forbidden.

    Raises ValueError with a reason on malformed or forbidden input.
    """
    try:
        return SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise ValueError(f"forbidden XML construct: {exc.__class__.__name__}: {exc}") from None
    except ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None


def validate_element(root: Element) -> list[str]:
    """Schema errors of an already safely parsed CAP element (empty list: valid CAP 1.2)."""
    if root.tag != f"{{{CAP12_NS}}}alert":
        return [f"root element is {root.tag!r}, expected {{{CAP12_NS}}}alert"]
    errors: list[str] = []
    # The instance is an in-memory tree: allow="none" forbids the validator from loading anything
    # the document points at (xsi:schemaLocation hints, includes).
    resource = xmlschema.XMLResource(root, allow="none", defuse="always")
    for err in cap_schema().iter_errors(resource):
        path = (err.path or "/").replace(f"{{{CAP12_NS}}}", "cap:")
        errors.append(f"{path}: {err.reason or err.message}")
        if len(errors) >= MAX_ERRORS:
            errors.append("... more errors not shown")
            break
    return errors


def validate_cap(xml: bytes) -> list[str]:
    """Errors that make `xml` not a valid OASIS CAP 1.2 alert; an empty list means valid.

    Never raises on bad input and never fetches anything: DTDs and entities are refused before
    the schema sees the document. Reusable by the CAP-out channel to check what the hub issues.
    """
    try:
        root = parse_cap_xml(xml)
    except ValueError as exc:
        return [str(exc)]
    return validate_element(root)
