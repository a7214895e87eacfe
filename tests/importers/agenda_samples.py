# ruff: noqa: E501  (sample files keep the line shapes real exports have)
"""Contacts and calendars as phones and calendar apps export them."""

from __future__ import annotations

# Apple Contacts exports vCard 3.0: folded lines, escaped commas, typed phones and e-mails.
VCARD3 = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "PRODID:-//Apple Inc.//macOS 15.0//EN\r\n"
    "N:Dupont;Jeanne;Marie;Dr;\r\n"
    "FN:Dr Jeanne Marie Dupont\r\n"
    "ORG:Hôpital Nord;Cardiologie\r\n"
    "TITLE:Cardiologue\r\n"
    "EMAIL;type=INTERNET;type=WORK;type=pref:jeanne.dupont@example.org\r\n"
    "TEL;type=CELL;type=VOICE;type=pref:+33 6 12 34 56 78\r\n"
    "TEL;type=WORK;type=VOICE:+33 2 40 00 00 00\r\n"
    "ADR;type=HOME;type=pref:;;12 rue des Lilas;Nantes;;44000;France\r\n"
    "BDAY:1975-04-12\r\n"
    "NOTE:Rendez-vous le mardi\\, de préférence le matin. Une note assez longue pour êt\r\n"
    " re repliée sur deux lignes.\r\n"
    "UID:2F1A0C3E-1111-4A2B-9C3D-ABCDEF012345\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "N:Martin;Paul;;;\r\n"
    "FN:Paul Martin\r\n"
    "EMAIL;type=INTERNET;type=HOME:paul.martin@example.net\r\n"
    "END:VCARD\r\n"
).encode()

# Android exports vCard 4.0: VALUE=uri telephones, KIND, ANNIVERSARY, a year-less birthday.
VCARD4 = (
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "KIND:individual\r\n"
    "FN:Amélie Bernard\r\n"
    "N:Bernard;Amélie;;;\r\n"
    'TEL;VALUE=uri;TYPE="voice,home":tel:+33-1-23-45-67-89\r\n'
    "EMAIL;TYPE=home;PREF=1:amelie@example.com\r\n"
    'ADR;TYPE=work;LABEL="5 place du Marché\\n69002 Lyon":;;5 place du Marché;Lyon;;69002;France\r\n'
    "BDAY:--0704\r\n"
    "ANNIVERSARY:20100612\r\n"
    "UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n"
    "END:VCARD\r\n"
).encode()
CONTACT_NAMES = ["Amélie Bernard", "Dr Jeanne Marie Dupont", "Paul Martin"]

# A calendar with its own VTIMEZONE, a weekly event with an exception and a moved
# occurrence, an all-day event and a UTC one.
ICAL = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "PRODID:-//Roost tests//FR\r\n"
    "BEGIN:VTIMEZONE\r\n"
    "TZID:Europe/Paris\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:yoga-weekly@example.org\r\n"
    "DTSTAMP:20260901T080000Z\r\n"
    "DTSTART;TZID=Europe/Paris:20261006T183000\r\n"
    "DTEND;TZID=Europe/Paris:20261006T193000\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20261231T235959Z\r\n"
    "EXDATE;TZID=Europe/Paris:20261027T183000\r\n"
    "SUMMARY:Yoga\r\n"
    "LOCATION:Salle des fêtes\\, Nantes\r\n"
    "ORGANIZER;CN=Claire:mailto:claire@example.org\r\n"
    "ATTENDEE;CN=Jeanne Dupont:mailto:jeanne.dupont@example.org\r\n"
    "STATUS:CONFIRMED\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:yoga-weekly@example.org\r\n"
    "DTSTAMP:20260901T080000Z\r\n"
    "RECURRENCE-ID;TZID=Europe/Paris:20261103T183000\r\n"
    "DTSTART;TZID=Europe/Paris:20261104T183000\r\n"
    "DTEND;TZID=Europe/Paris:20261104T193000\r\n"
    "SUMMARY:Yoga (moved to Wednesday)\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:holiday-2026@example.org\r\n"
    "DTSTAMP:20260901T080000Z\r\n"
    "DTSTART;VALUE=DATE:20261101\r\n"
    "DTEND;VALUE=DATE:20261102\r\n"
    "SUMMARY:Toussaint\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:call-utc@example.org\r\n"
    "DTSTAMP:20260901T080000Z\r\n"
    "DTSTART:20261015T140000Z\r\n"
    "DURATION:PT45M\r\n"
    "SUMMARY:Appel avec New York\r\n"
    "DESCRIPTION:Ordre du jour :\\n1. budget\\n2. planning\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n"
).encode()

VCARD_BROKEN = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nobody\r\nN:Nobody;;;;\r\n"  # no END:VCARD
ICAL_BROKEN = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nDTSTART:2026\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
