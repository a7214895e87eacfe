"""iCalendar files (icalendar) to ``io.cozy.events`` documents.

One document per VEVENT: a recurring event is one document carrying its ``rrule`` (and
``exdate``), as the calendar shows it; an occurrence edited on its own (same UID, a
``RECURRENCE-ID``) is a document of its own that names the occurrence it replaces. Times keep
their zone: ``start``/``end`` are ISO 8601 with the offset of that moment in the event's zone
(``timezone`` names it), UTC times end in ``Z``, floating times have no offset, and an all-day
event has dates and ``allDay: true`` (its ``end`` is exclusive, as in iCalendar).
"""

import zoneinfo
from datetime import date, datetime, timedelta

import icalendar
from roost_importer import FileRejected, occurrence_ids, stable_id

EVENTS = "io.cozy.events"

# The sandbox has no zone files at run time: load every zone while the component is built,
# and keep them referenced so zoneinfo's cache holds them.
ZONES = {key: zoneinfo.ZoneInfo(key) for key in zoneinfo.available_timezones()}
# One parse at build time fills icalendar's list of known zones and imports what it imports
# lazily (zones, recurrence rules, durations), for the same reason.
_WARM_UP = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//warm-up//EN\r\nBEGIN:VTIMEZONE\r\n"
    "TZID:Europe/Paris\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART;TZID=Europe/Paris:20260106T183000\r\nDURATION:PT1H\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20261231T235959Z\r\n"
    "EXDATE;TZID=Europe/Paris:20260113T183000\r\nRECURRENCE-ID;TZID=Europe/Paris:20260120T183000\r\n"
    "ORGANIZER;CN=W:mailto:w@example.org\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:d\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260101\r\nDTEND;VALUE=DATE:20260102\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def looks_like_ical(data):
    return b"BEGIN:VCALENDAR" in data[:4096].upper()


def _zone_name(value):
    tz = getattr(value, "tzinfo", None)
    if tz is None:
        return None
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if key:
        return str(key)
    name = tz.tzname(value)
    return str(name) if name else None


def _iso(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(microsecond=0).isoformat()
        if value.utcoffset() == timedelta(0) and _zone_name(value) in ("UTC", "Etc/UTC", "Z", None):
            return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise FileRejected(f"{value!r} is not a date")


def _text(component, key):
    value = component.get(key)
    return str(value).strip() if value is not None else ""


def _address(value):
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


def _event(ev):
    uid = _text(ev, "UID")
    start_prop = ev.get("DTSTART")
    if start_prop is None:
        raise FileRejected(f"event {uid or _text(ev, 'SUMMARY')!r} has no start")
    start = start_prop.dt
    all_day = isinstance(start, date) and not isinstance(start, datetime)
    end = ev.get("DTEND").dt if ev.get("DTEND") is not None else None
    if end is None and ev.get("DURATION") is not None:
        end = start + ev.get("DURATION").dt
    if end is None and all_day:
        end = start + timedelta(days=1)
    doc = {
        "label": _text(ev, "SUMMARY") or "(no title)",
        "start": _iso(start),
        "allDay": all_day,
    }
    if end is not None:
        doc["end"] = _iso(end)
    zone = _zone_name(start) if not all_day else None
    if zone and zone not in ("UTC", "Etc/UTC"):
        doc["timezone"] = zone
    for key, field in (
        ("DESCRIPTION", "description"),
        ("LOCATION", "location"),
        ("STATUS", "status"),
    ):
        if _text(ev, key):
            doc[field] = _text(ev, key)
    if ev.get("ORGANIZER") is not None:
        doc["organizer"] = _address(ev.get("ORGANIZER"))
    attendees = ev.get("ATTENDEE")
    if attendees is not None:
        doc["attendee"] = [
            _address(a) for a in (attendees if isinstance(attendees, list) else [attendees])
        ]
    if ev.get("RRULE") is not None:
        doc["rrule"] = ev.get("RRULE").to_ical().decode()
        exdates = ev.get("EXDATE")
        if exdates is not None:
            doc["exdate"] = [
                _iso(d.dt)
                for group in (exdates if isinstance(exdates, list) else [exdates])
                for d in group.dts
            ]
    if ev.get("RECURRENCE-ID") is not None:
        doc["recurrenceId"] = _iso(ev.get("RECURRENCE-ID").dt)
    doc["metadata"] = {"version": 1, "importedFrom": "icalendar"}
    if uid:
        doc["uid"] = uid
    return doc


def parse(data):
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise FileRejected(f"not a valid iCalendar file ({str(e).strip()[:200]})") from None
    events = []
    for calendar in calendars:
        for n, ev in enumerate(calendar.walk("VEVENT"), 1):
            try:
                events.append(_event(ev))
            except FileRejected:
                raise
            except (ValueError, KeyError, AttributeError, TypeError) as e:
                raise FileRejected(f"event {n} is malformed ({str(e).strip()[:200]})") from None
    if not events:
        raise FileRejected("this iCalendar file holds no event")
    return _with_ids(events)


def _with_ids(events):
    keyed = [e for e in events if e.get("uid")]
    for e in keyed:
        e["_id"] = stable_id(EVENTS, e["uid"], e.get("recurrenceId", ""))
    occurrence_ids(
        [e for e in events if not e.get("uid")],
        lambda e: (e["label"], e["start"]),
        lambda k, i: stable_id(EVENTS, *k, i),
    )
    return events


parse(_WARM_UP.encode())
