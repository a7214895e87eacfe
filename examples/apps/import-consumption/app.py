"""import-consumption: energy and water readings from providers' CSV exports.

Reads Enedis (Linky) customer exports and other providers' CSV files (consumption_csv.py)
from the watched folder (account field ``folder``, default ``/Imports/Consumption``) and
writes one ``io.roost.consumption.readings`` document per reading; the id is a hash of
(provider, meter, kind, start), so a re-import or an overlapping export creates nothing new.
"""

import consumption_csv
import wit_world
from consumption_csv import READINGS
from roost_importer import FileRejected, decode_text, entry_point, run_importer

SLUG = "import-consumption"
DEFAULT_FOLDER = "/Imports/Consumption"


def parse_export(name, data):
    if not name.lower().endswith((".csv", ".txt")):
        raise FileRejected("not a CSV export (the file name should end with .csv)")
    fmt, readings = consumption_csv.parse(decode_text(data))
    return fmt, {READINGS: readings}


def import_readings(params):
    return run_importer(
        params, slug=SLUG, default_folder=DEFAULT_FOLDER, parse=parse_export, order=(READINGS,)
    )


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        return _run(input)


_run = entry_point(import_readings)
