"""Consumption exports as providers write them."""

from __future__ import annotations

# Enedis "Mes données" export: daily energy in Wh, then a 30-minute load curve in W.
ENEDIS = (
    "\ufeffIdentifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;"
    "Grandeur metier;Etape metier;Unite\r\n"
    "09876543210123;Energie active quotidienne;01/10/2026;04/10/2026;Energie active;"
    "Consommation;Comptage Brut;Wh\r\n"
    "Horodate;Valeur\r\n"
    "2026-10-01T00:00:00+02:00;8234\r\n"
    "2026-10-02T00:00:00+02:00;7911\r\n"
    "2026-10-03T00:00:00+02:00;10450\r\n"
    "\r\n"
    "Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;"
    "Grandeur metier;Etape metier;Unite;Pas en minutes\r\n"
    "09876543210123;Courbe de charge;03/10/2026;03/10/2026;Puissance active;Consommation;"
    "Comptage Brut;W;30\r\n"
    "Horodate;Valeur\r\n"
    "2026-10-03T00:30:00+02:00;1200\r\n"
    "2026-10-03T01:00:00+02:00;\r\n"
    "2026-10-03T01:30:00+02:00;800\r\n"
).encode("utf-8")
ENEDIS_DAILY_KWH = [8.234, 7.911, 10.45]
ENEDIS_CURVE_KWH = [0.6, 0.4]  # 1,200 W for 30 min, 800 W for 30 min; the gap is skipped

# A water provider's export: day-first dates, litres, the meter in a column.
WATER = (
    "Date de relevé;N° de compteur;Index (m3);Consommation (litres)\r\n"
    "01/10/2026;W123456;512,331;182\r\n"
    "02/10/2026;W123456;512,498;167\r\n"
).encode("cp1252")
WATER_LITRES = [182.0, 167.0]

# Malformed: a daily section whose second value is not a number.
ENEDIS_BAD = ENEDIS.replace(b"7911", b"79x1")
