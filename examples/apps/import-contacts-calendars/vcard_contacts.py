"""vCard 3.0 and 4.0 files (vobject) to ``io.cozy.contacts`` documents.

vobject knows 3.0 well and 4.0 only in part (its structured values - N, ADR - may stay raw
text for a 4.0 card), so each property is read from either form. Values the contacts schema
would refuse (an e-mail with no ``@``, a birthday with no year) are left out rather than
failing the whole file.
"""

import re
from datetime import date

import vobject
from roost_importer import FileRejected, occurrence_ids, stable_id
from vobject.base import ParseError

CONTACTS = "io.cozy.contacts"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_NAME_PARTS = ("familyName", "givenName", "additionalName", "namePrefix", "nameSuffix")
_ADR_PARTS = ("pobox", "extended", "street", "city", "region", "postcode", "country")


def looks_like_vcard(data):
    return b"BEGIN:VCARD" in data[:4096].upper()


def _split(text):
    """A structured value's components (``;`` separated, ``\\;`` escaped)."""
    parts = re.split(r"(?<!\\);", text)
    return [
        re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), p) for p in parts
    ]


def _join(value):
    if isinstance(value, list):
        return " ".join(str(v) for v in value if v)
    return str(value or "").strip()


def _types(prop):
    found = []
    for key in ("TYPE", "type"):
        for value in prop.params.get(key, []):
            found.extend(v.strip().strip('"').lower() for v in str(value).split(","))
    return found


def _primary(prop, types):
    return "pref" in types or prop.params.get("PREF", [""])[0] == "1"


def _kind(types):
    for kind in ("cell", "mobile", "home", "work", "fax", "other", "voice"):
        if kind in types:
            return "cell" if kind == "mobile" else kind
    return None


def _name(card):
    if "n" not in card.contents:
        return {}
    value = card.n.value
    if isinstance(value, str):
        parts = _split(value) + [""] * 5
    else:
        parts = [value.family, value.given, value.additional, value.prefix, value.suffix]
    return {key: _join(part) for key, part in zip(_NAME_PARTS, parts, strict=False) if _join(part)}


def _address(prop):
    value = prop.value
    if isinstance(value, str):
        parts = dict(zip(_ADR_PARTS, _split(value) + [""] * 7, strict=False))
    else:
        parts = {
            "pobox": value.box,
            "extended": value.extended,
            "street": value.street,
            "city": value.city,
            "region": value.region,
            "postcode": value.code,
            "country": value.country,
        }
    out = {k: _join(v) for k, v in parts.items() if k != "extended" and _join(v)}
    if _join(parts.get("extended")):
        out["street"] = (out.get("street", "") + " " + _join(parts["extended"])).strip()
    lines = [
        out.get("street", ""),
        " ".join(x for x in (out.get("postcode"), out.get("city")) if x),
        out.get("country", ""),
    ]
    out["formattedAddress"] = ", ".join(line for line in lines if line)
    return out


def _birthday(text):
    t = str(text).strip()
    compact = t.replace("-", "")
    if re.fullmatch(r"\d{8}", compact) and not t.startswith("--"):
        try:
            return date(int(compact[:4]), int(compact[4:6]), int(compact[6:8])).isoformat()
        except ValueError:
            return None
    return None  # "--0704": a day without a year, which Cozy's birthday cannot hold


def _contact(card):
    doc = {}
    fullname = _join(card.fn.value) if "fn" in card.contents else ""
    name = _name(card)
    if not fullname:
        fullname = " ".join(
            name.get(k, "")
            for k in ("namePrefix", "givenName", "additionalName", "familyName", "nameSuffix")
        ).strip()
    if not fullname and "org" in card.contents:
        fullname = _join(card.org.value)
    if not fullname:
        raise FileRejected("a contact has neither a name nor an organisation")
    doc["fullname"] = fullname
    if name:
        doc["name"] = name
    emails = []
    for prop in card.contents.get("email", []):
        address = str(prop.value).strip()
        if address.lower().startswith("mailto:"):
            address = address[7:]
        if not _EMAIL.match(address):
            continue
        types = _types(prop)
        entry = {"address": address, "primary": _primary(prop, types)}
        if _kind(types):
            entry["type"] = _kind(types)
        emails.append(entry)
    phones = []
    for prop in card.contents.get("tel", []):
        number = re.sub(r"^tel:", "", str(prop.value).strip(), flags=re.I)
        if not number:
            continue
        types = _types(prop)
        entry = {"number": number, "primary": _primary(prop, types)}
        if _kind(types):
            entry["type"] = _kind(types)
        phones.append(entry)
    addresses = []
    for prop in card.contents.get("adr", []):
        entry = _address(prop)
        types = _types(prop)
        entry["primary"] = _primary(prop, types)
        if _kind(types):
            entry["type"] = _kind(types)
        addresses.append(entry)
    for key, values in (("email", emails), ("phone", phones), ("address", addresses)):
        if values:
            doc[key] = values
    if "org" in card.contents:
        org = card.org.value
        company = (
            org[0]
            if isinstance(org, list) and org
            else (_split(org)[0] if isinstance(org, str) else "")
        )
        if company:
            doc["company"] = company
    if "title" in card.contents and _join(card.title.value):
        doc["jobTitle"] = _join(card.title.value)
    if "bday" in card.contents:
        birthday = _birthday(card.bday.value)
        if birthday:
            doc["birthday"] = birthday
    if "note" in card.contents and _join(card.note.value):
        doc["note"] = _join(card.note.value)
    uid = _join(card.uid.value) if "uid" in card.contents else ""
    version = _join(card.version.value) if "version" in card.contents else ""
    doc["metadata"] = {"version": 1, "importedFrom": f"vcard {version}".strip()}
    if uid:
        doc["metadata"]["uid"] = uid
    return uid, doc


def parse(text):
    try:
        cards = list(vobject.readComponents(text, validate=False, ignoreUnreadable=False))
    except (ParseError, ValueError, AttributeError) as e:
        raise FileRejected(f"not a valid vCard file ({str(e).strip()[:200]})") from None
    cards = [c for c in cards if c.name.upper() == "VCARD"]
    if not cards:
        raise FileRejected("this vCard file holds no contact")
    with_uid, without = [], []
    for n, card in enumerate(cards, 1):
        try:
            uid, doc = _contact(card)
        except FileRejected as e:
            raise FileRejected(f"contact {n}: {e}") from None
        except (ParseError, ValueError, AttributeError, TypeError) as e:
            raise FileRejected(f"contact {n} is malformed ({str(e).strip()[:200]})") from None
        if uid:
            doc["_id"] = stable_id(CONTACTS, "uid", uid)
            with_uid.append(doc)
        else:
            without.append(doc)
    occurrence_ids(
        without,
        lambda d: (
            d["fullname"],
            (d.get("email") or [{}])[0].get("address", ""),
            (d.get("phone") or [{}])[0].get("number", ""),
        ),
        lambda k, i: stable_id(CONTACTS, *k, i),
    )
    return with_uid + without
