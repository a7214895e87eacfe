"""Energy and water readings from the providers' CSV exports.

- Enedis (Linky) customer export: a ``;`` CSV of sections, each a metadata header
  (``Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur
  metier;Etape metier;Unite[;Pas en minutes]``) and its value line, then a data header and
  rows. Daily energy (``Horodate;Valeur`` in Wh or kWh) becomes ``daily`` readings in kWh;
  the load curve (average W per 10/30/60-min step, stamped at the step's end) becomes
  ``load-curve`` readings of Wh = W x minutes / 60, in kWh; ``Index`` rows give the ``EAS T``
  register (``index``, kWh); ``Puissance maximale`` gives ``max-power`` (VA).
- Any other provider's export with a date column and a consumption column whose header names
  its unit, e.g. ``Date de relevé;Consommation (litres)`` or ``Date;Consommation (m³)``:
  ``daily`` readings in that unit (water in litres or m3, gas or electricity in kWh).
"""

import csv
import io
import re
import unicodedata
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from roost_importer import FileRejected, stable_id

READINGS = "io.roost.consumption.readings"
_UNITS = {
    "kwh": "kWh",
    "wh": "Wh",
    "m3": "m3",
    "m³": "m3",
    "l": "L",
    "litres": "L",
    "litre": "L",
    "liters": "L",
}


def _key(text):
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", plain).strip().lower()


def _number(text, where):
    s = re.sub(r"[\s\u00a0\u202f]", "", text).replace(",", ".")
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise FileRejected(f"{where}: {text!r} is not a number") from None
    if not value.is_finite():
        raise FileRejected(f"{where}: {text!r} is not a number")
    return value


def _instant(text, where):
    t = text.strip()
    try:
        if re.match(r"^\d{2}/\d{2}/\d{4}", t):
            day = datetime.strptime(t[:10], "%d/%m/%Y")
            rest = t[10:].strip()
            if rest:
                h, m = (int(x) for x in rest.split(":")[:2])
                day = day.replace(hour=h, minute=m)
            return day
        return datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise FileRejected(f"{where}: {t!r} is not a date") from None


def _iso(moment):
    if moment.tzinfo is not None and moment.utcoffset() == timedelta(0):
        return moment.replace(tzinfo=None).isoformat() + "Z"
    return moment.isoformat()


def _reading(meter, energy, kind, start, end, value, unit, provider, extra=None):
    doc = {
        "_id": stable_id(READINGS, provider, meter, kind, _iso(start)),
        "provider": provider,
        "meter": meter,
        "energy": energy,
        "kind": kind,
        "date": start.date().isoformat(),
        "start": _iso(start),
        "value": float(value),
        "unit": unit,
    }
    if end is not None:
        doc["end"] = _iso(end)
    doc.update(extra or {})
    return doc


def looks_like_enedis(text):
    return "identifiant prm" in _key(text[:500])


def _rows(text):
    return [row for row in csv.reader(io.StringIO(text), delimiter=";")]


def _enedis_section(meta, header, rows, n):
    meter = meta.get("identifiant prm", "").strip()
    kind_text = _key(meta.get("type de donnees", ""))
    unit_text = _key(meta.get("unite", ""))
    if not meter:
        raise FileRejected(f"section {n} names no meter (Identifiant PRM)")
    out = []
    if "index" in kind_text:
        if "eas t" not in header:
            raise FileRejected(f"section {n}: no EAS T column in the index data")
        col = header.index("eas t")
        scale = Decimal("0.001") if unit_text == "wh" else Decimal(1)
        for row, line in rows:
            if len(row) <= col or not row[col].strip():
                continue
            at = _instant(row[0], f"line {line}")
            value = _number(row[col], f"line {line}") * scale
            out.append(_reading(meter, "electricity", "index", at, None, value, "kWh", "enedis"))
        return out
    if "horodate" not in header or "valeur" not in header:
        raise FileRejected(f"section {n}: the data header is not Horodate;Valeur")
    at_col, value_col = header.index("horodate"), header.index("valeur")
    data = []
    for row, line in rows:
        if len(row) <= value_col or not row[value_col].strip():
            continue  # a gap in the curve
        data.append(
            (_instant(row[at_col], f"line {line}"), _number(row[value_col], f"line {line}"), line)
        )
    if "puissance max" in kind_text:
        return [
            _reading(meter, "electricity", "max-power", at, None, v, "VA", "enedis")
            for at, v, _ in data
        ]
    if "courbe" in kind_text:
        step = meta.get("pas en minutes", "").strip()
        minutes = int(step) if step.isdigit() else None
        previous = None
        for at, watts, line in sorted(data, key=lambda d: d[0]):
            gap = minutes or (int((at - previous).total_seconds() // 60) if previous else None)
            previous = at
            if not gap:
                gap = 30  # the first point of a file without a declared step: Enedis' default
            if gap not in (5, 10, 15, 30, 60):
                raise FileRejected(f"line {line}: a {gap}-minute step is not a load-curve step")
            kwh = watts * gap / 60 / 1000 if unit_text in ("w", "kw") else watts / 1000
            if unit_text == "kw":
                kwh *= 1000
            start = at - timedelta(minutes=gap)
            out.append(
                _reading(
                    meter,
                    "electricity",
                    "load-curve",
                    start,
                    at,
                    kwh,
                    "kWh",
                    "enedis",
                    {"averagePower": float(watts), "stepMinutes": gap},
                )
            )
        return out
    scale = {"wh": Decimal("0.001"), "kwh": Decimal(1)}.get(unit_text)
    if scale is None:
        raise FileRejected(f"section {n}: unit {meta.get('unite', '')!r} is not an energy unit")
    for at, v, _ in data:
        start = at.replace(hour=0, minute=0, second=0)
        out.append(
            _reading(
                meter,
                "electricity",
                "daily",
                start,
                start + timedelta(days=1),
                v * scale,
                "kWh",
                "enedis",
            )
        )
    return out


def parse_enedis(text):
    rows = _rows(text)
    readings, n, i = [], 0, 0
    while i < len(rows):
        row = rows[i]
        if row and _key(row[0]) == "identifiant prm":
            n += 1
            if i + 2 >= len(rows):
                raise FileRejected(f"section {n} is cut short")
            meta = {_key(k): v for k, v in zip(row, rows[i + 1], strict=False)}
            header = [_key(h) for h in rows[i + 2]]
            body, j = [], i + 3
            while j < len(rows) and not (rows[j] and _key(rows[j][0]) == "identifiant prm"):
                if any(c.strip() for c in rows[j]):
                    body.append((rows[j], j + 1))
                j += 1
            readings.extend(_enedis_section(meta, header, body, n))
            i = j
        else:
            i += 1
    if not readings:
        raise FileRejected("this Enedis export holds no reading")
    return readings


_DATE_COLUMNS = ("date", "date de releve", "jour", "horodate", "date releve", "periode")
_METER_COLUMNS = ("compteur", "numero de compteur", "n de compteur", "prm", "pdl", "pce", "meter")


def _unit_of(header):
    m = re.search(r"\(([^)]+)\)", header) or re.search(
        r"\b(kwh|wh|m3|m³|litres?|liters|l)\b", header
    )
    return _UNITS.get(m.group(1).strip().lower()) if m else None


def _find_header(lines):
    """(line index, delimiter, header, keys, date column, [(value column, unit)]) or None."""
    for index, line in enumerate(lines[:20]):
        delimiter = max((";", ",", "\t"), key=line.count)
        header = next(csv.reader([line], delimiter=delimiter), [])
        keys = [_key(h) for h in header]
        date_col = next((keys.index(k) for k in keys if k in _DATE_COLUMNS), None)
        value_cols = [
            (i, _unit_of(h.lower()))
            for i, h in enumerate(header)
            if i != date_col and "index" not in keys[i]
        ]
        value_cols = [(i, u) for i, u in value_cols if u]
        if date_col is not None and value_cols:
            return index, delimiter, header, keys, date_col, value_cols
    return None


def parse_generic(text, provider="generic"):
    lines = text.splitlines()
    found = _find_header(lines)
    if found is None:
        raise FileRejected(
            "not a consumption export this importer reads (an Enedis export, or a CSV with a "
            'date column and a consumption column naming its unit, e.g. "Consommation (kWh)")'
        )
    start, delimiter, header, keys, date_col, value_cols = found
    value_col, unit = value_cols[0]
    meter_col = next((keys.index(k) for k in keys if k in _METER_COLUMNS), None)
    heading = _key(" ".join(header))
    if unit in ("m3", "L"):
        energy = "gas" if "gaz" in heading or "gas" in heading else "water"
    else:
        energy = "gas" if "gaz" in heading or "gas" in heading else "electricity"
    value_unit = "kWh" if unit in ("kWh", "Wh") else unit
    scale = Decimal("0.001") if unit == "Wh" else Decimal(1)
    readings = []
    reader = csv.reader(io.StringIO("\n".join(lines[start + 1 :])), delimiter=delimiter)
    for n, row in enumerate(reader, start + 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(date_col, value_col) or not row[value_col].strip():
            continue
        at = _instant(row[date_col], f"line {n}")
        day = datetime(at.year, at.month, at.day)
        meter = (
            row[meter_col].strip() if meter_col is not None and len(row) > meter_col else ""
        ) or "unspecified"
        value = _number(row[value_col], f"line {n}") * scale
        readings.append(
            _reading(
                meter, energy, "daily", day, day + timedelta(days=1), value, value_unit, provider
            )
        )
    if not readings:
        raise FileRejected("this CSV file holds no reading")
    return readings


def parse(text):
    if looks_like_enedis(text):
        return "enedis", parse_enedis(text)
    return "csv", parse_generic(text)
