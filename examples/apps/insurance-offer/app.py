"""insurance-offer: a usage-based car insurance quote computed inside your Roost.

It reads only your vehicles (``io.roost.vehicles``) and driving trips
(``io.roost.driving.trips``), computes a quote, and writes it as an
``io.roost.insurance.offers`` document. It has no egress: nothing about your driving leaves
your Roost. When you accept an offer, the app *proposes* the acceptance - that one small
document, nothing else - to your outbox (world ``roost:app@0.2.0``); Roost sends it to the
insurer only if you approve it there, and the app reads the insurer's answer on a later run.

Vehicle: ``{"make", "model", "year", "energy": "petrol"|"diesel"|"electric"|"hybrid",
"value"}``. Trip: ``{"vehicle", "date", "distance_km", "duration_min", "night_km",
"harsh_brakes", "speeding_km"}``.

Input (optional): ``{"vehicle": "<id>", "months": 12, "as_of": "2026-11-22"}``.
Output: the offer documents written (one per vehicle, id ``offer-<vehicle id>``).

Accepting: ``{"accept": "offer-<vehicle id>"}`` proposes the acceptance to the insurer
(``"insurer_url"`` overrides the endpoint, e.g. a local test insurer; the grant still decides
where the app may propose to). Every run first reads the answers to its proposals: an offer
whose acceptance was sent becomes ``accepted`` (with the insurer's ``policy``); a refused or
expired one goes back to ``offered``. Roost runs the app with ``{"outbox": {"id", "state"}}``
as soon as a proposal is decided, so the offer changes at once.
"""

import json
from datetime import date

import roost_sdk as roost
import wit_world
from componentize_py_types import Err

VEHICLES = "io.roost.vehicles"
TRIPS = "io.roost.driving.trips"
OFFERS = "io.roost.insurance.offers"
INSURER_URL = "https://quotes.insurer.example/v1/acceptances"
#: Offer statuses: computed, waiting for the person's approval in the outbox, accepted.
OFFERED, AWAITING, ACCEPTED = "offered", "awaiting approval", "accepted"

BASE_MONTHLY = 18.0  # EUR, third-party cover
VALUE_RATE = 0.0009  # per EUR of vehicle value, per month
PER_KM = 0.021  # EUR per km driven
ENERGY = {"electric": 0.85, "hybrid": 0.92, "petrol": 1.0, "diesel": 1.04}


def _round(x):
    return round(x + 1e-9, 2)


def quote(vehicle, trips, months, as_of):
    year = int(vehicle.get("year") or as_of.year)
    age = max(0, as_of.year - year)
    value = float(vehicle.get("value") or 0)
    km = sum(float(t.get("distance_km") or 0) for t in trips)
    night = sum(float(t.get("night_km") or 0) for t in trips)
    brakes = sum(int(t.get("harsh_brakes") or 0) for t in trips)
    speeding = sum(float(t.get("speeding_km") or 0) for t in trips)
    monthly_km = km / months if months else 0.0
    night_share = night / km if km else 0.0
    brakes_per_100 = 100.0 * brakes / km if km else 0.0
    speeding_share = speeding / km if km else 0.0

    base = BASE_MONTHLY + VALUE_RATE * value * (0.97 ** min(age, 15))
    usage = PER_KM * monthly_km
    factor = ENERGY.get(str(vehicle.get("energy", "petrol")).lower(), 1.0)
    factor *= 1.0 + 0.5 * night_share
    factor *= 1.0 + min(0.3, 0.05 * brakes_per_100)
    factor *= 1.0 + min(0.4, 2.0 * speeding_share)
    if km and brakes == 0 and speeding == 0:
        factor *= 0.9  # smooth-driving discount
    monthly = _round((base + usage) * factor)
    return {
        "_id": "offer-" + vehicle["_id"],
        "vehicle": vehicle["_id"],
        "status": OFFERED,
        "currency": "EUR",
        "monthly_premium": monthly,
        "annual_premium": _round(monthly * 12),
        "as_of": as_of.isoformat(),
        "basis": {
            "months_observed": months,
            "trips": len(trips),
            "km": _round(km),
            "monthly_km": _round(monthly_km),
            "night_share": _round(night_share),
            "harsh_brakes_per_100km": _round(brakes_per_100),
            "speeding_share": _round(speeding_share),
            "vehicle_age_years": age,
        },
    }


def offers(params):
    months = int(params.get("months", 12))
    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else date.today()
    wanted = params.get("vehicle")
    vehicles = roost.find_all(VEHICLES, {"_id": wanted} if wanted else {})
    if not vehicles:
        raise roost.RoostError("no_vehicle", "add a vehicle first")
    trips = roost.find_all(TRIPS)
    written = []
    for vehicle in vehicles:
        mine = [t for t in trips if t.get("vehicle") == vehicle["_id"]]
        offer = quote(vehicle, mine, months, as_of)
        current = roost.get(OFFERS, offer["_id"])
        if current is not None and current.get("status") in (AWAITING, ACCEPTED):
            written.append(current)  # an accepted offer is a contract: never re-quoted
            continue
        outcome, stored = roost.upsert(OFFERS, offer)
        roost.info(
            f"{vehicle.get('make', '')} {vehicle.get('model', '')}: "
            f"{offer['monthly_premium']} EUR/month ({outcome})"
        )
        written.append(stored)
    return {"offers": written}


def acceptance(offer):
    """The only document the insurer ever receives: the offer accepted, not the driving."""
    return {
        "type": "acceptance",
        "offer": offer["_id"],
        "monthly_premium": offer["monthly_premium"],
        "annual_premium": offer["annual_premium"],
        "currency": offer["currency"],
        "quoted_on": offer["as_of"],
    }


def accept(params):
    offer = roost.get(OFFERS, str(params["accept"]))
    if offer is None:
        raise roost.RoostError("no_offer", "no such offer: compute one first")
    if offer.get("status") in (AWAITING, ACCEPTED):
        return {"offer": offer}  # already on its way (or done): never proposed twice
    body = acceptance(offer)
    proposal = roost.propose(
        str(params.get("insurer_url") or INSURER_URL),
        f"Accept the car insurance offer at {offer['monthly_premium']} "
        f"{offer['currency']} a month",
        json_body=body,
        reference=offer["_id"],
    )
    offer["status"] = AWAITING
    offer["outbox"] = proposal["id"]
    stored = roost.update(OFFERS, offer)
    roost.info(f"acceptance of {offer['_id']} is waiting in your outbox ({proposal['id']})")
    return {"offer": stored, "proposal": proposal["id"]}


def read_answers():
    """Move offers whose acceptance was decided: sent -> accepted; refused/expired -> offered."""
    changed = []
    for offer in roost.find_all(OFFERS, {"status": AWAITING}):
        proposal = roost.proposal(offer["outbox"])
        state = proposal["state"]
        status = (proposal.get("answer") or {}).get("status", 0)
        if state == "sent" and 200 <= status < 300:
            try:
                answer = json.loads(proposal["answer"].get("body") or "{}")
            except ValueError:
                answer = {}
            offer["status"] = ACCEPTED
            offer["policy"] = answer.get("policy") if isinstance(answer, dict) else None
        elif state == "sent":  # the insurer said no (or something went wrong on its side)
            offer["status"] = OFFERED
            offer["last_acceptance"] = f"the insurer answered {status}"
        elif state in ("refused", "expired", "failed"):
            offer["status"] = OFFERED
            offer["last_acceptance"] = state
        else:
            continue  # still waiting for the person
        changed.append(roost.update(OFFERS, offer))
    return changed


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            params = json.loads(input or "{}")
            answered = read_answers()
            if params.get("accept"):
                result = accept(params)
            elif params.get("answers_only") or params.get("outbox"):
                # {"outbox": {"id", "state"}}: Roost runs the app once a proposal is decided.
                result = {}
            else:
                result = offers(params)
            result["answered"] = answered
            return json.dumps(result)
        except roost.RoostError as e:
            raise Err(json.dumps({"error": e.code, "message": e.message})) from None
