"""import-contacts-calendars: vCard and iCalendar files dropped in a folder become contacts
and events.

Reads vCard 3.0/4.0 (vobject, vcard_contacts.py) and iCalendar (icalendar, ical_events.py)
files from the watched folder (account field ``folder``, default ``/Imports/Contacts and
calendars``) and writes ``io.cozy.contacts`` and ``io.cozy.events``. Ids come from each
card's or event's UID (plus RECURRENCE-ID), else a hash of its name and start: a re-import
creates nothing.
"""

import ical_events
import vcard_contacts
import wit_world
from ical_events import EVENTS
from roost_importer import FileRejected, decode_text, entry_point, run_importer
from vcard_contacts import CONTACTS

SLUG = "import-contacts-calendars"
DEFAULT_FOLDER = "/Imports/Contacts and calendars"


def parse_file(name, data):
    if vcard_contacts.looks_like_vcard(data):
        return "vcard", {CONTACTS: vcard_contacts.parse(decode_text(data))}
    if ical_events.looks_like_ical(data):
        return "icalendar", {EVENTS: ical_events.parse(data)}
    raise FileRejected("not a vCard (.vcf) or iCalendar (.ics) file")


def import_files(params):
    return run_importer(
        params,
        slug=SLUG,
        default_folder=DEFAULT_FOLDER,
        parse=parse_file,
        order=(CONTACTS, EVENTS),
    )


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        return _run(input)


_run = entry_point(import_files)
