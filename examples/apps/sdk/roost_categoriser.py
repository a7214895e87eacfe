"""Automatic categories: a small model that learns from the person's own corrections.

Two models, in Cozy's two fields, so Cozy's display rule (`categories.displayed_category`)
reads them unchanged:

- the **local model** (`localCategoryId`, `localCategoryProba`) is a multinomial naive Bayes
  over the words of the labels of the operations whose category the person set
  (`manualCategoryId`), retrained from them at every run, as Cozy does (cheap: a few
  thousand labels at most). Its probability is the posterior of the best category times the
  share of the operation's words that category has seen — an operation with no word in
  common with any correction gets 0, not the only category the model knows;
- the **global model** (`cozyCategoryId`, `cozyCategoryProba`) is Roost's built-in table of
  label words (`SEED_RULES`: French and English merchants and bank wording). Cozy fetches a
  model trained on other people's data; Roost ships a table, so nothing leaves the box.

Pure functions, no I/O, shared by the guests: the `categorise-operations` app (a sandboxed
service app, run on new operations) feeds them; nothing of it runs in the stack, nothing
leaves the box.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

_WORD: Final = re.compile(r"[a-z][a-z0-9]+")
# Cozy's category ids are numbers written as strings ("400110"); the stack checks a
# correction against its table when the person makes it.
_CATEGORY_ID: Final = re.compile(r"[0-9]{1,6}")
# Bank wording that says how money moved, not what for: no help in telling categories apart.
STOP_WORDS: Final = frozenset(
    """cb carte card prlv prelevement sepa vir virement recu emis paiement payment achat
    facture fact du de la le les des et a au aux en sur par pour ref reference mandat ech
    echeance dt ct the of to from inst instant europeen fr eur n no num""".split()
)
#: (words that must all appear in the label, category id, probability).
SEED_RULES: Final[tuple[tuple[tuple[str, ...], str, float], ...]] = (
    (("salaire",), "200110", 0.9),
    (("salary",), "200110", 0.9),
    (("payroll",), "200110", 0.9),
    (("caf",), "200160", 0.6),
    (("pole", "emploi"), "200120", 0.8),
    (("france", "travail"), "200120", 0.8),
    (("interets",), "200130", 0.7),
    (("retraite",), "200190", 0.7),
    (("carrefour",), "400110", 0.7),
    (("leclerc",), "400110", 0.7),
    (("auchan",), "400110", 0.7),
    (("lidl",), "400110", 0.7),
    (("monoprix",), "400110", 0.7),
    (("intermarche",), "400110", 0.7),
    (("franprix",), "400110", 0.7),
    (("casino",), "400110", 0.5),
    (("biocoop",), "400110", 0.7),
    (("supermarche",), "400110", 0.7),
    (("boulangerie",), "400160", 0.5),
    (("amazon",), "400112", 0.6),
    (("fnac",), "400740", 0.5),
    (("darty",), "400740", 0.5),
    (("orange",), "400150", 0.5),
    (("sfr",), "400150", 0.7),
    (("bouygues",), "400150", 0.7),
    (("free", "mobile"), "400150", 0.8),
    (("freebox",), "400150", 0.8),
    (("sosh",), "400150", 0.8),
    (("netflix",), "400750", 0.8),
    (("spotify",), "400750", 0.8),
    (("deezer",), "400750", 0.8),
    (("disney",), "400750", 0.6),
    (("sncf",), "400850", 0.8),
    (("ouigo",), "400850", 0.8),
    (("air", "france"), "400850", 0.8),
    (("easyjet",), "400850", 0.8),
    (("ratp",), "400280", 0.8),
    (("navigo",), "400280", 0.8),
    (("uber",), "400290", 0.6),
    (("taxi",), "400290", 0.7),
    (("total",), "400250", 0.4),
    (("totalenergies",), "400250", 0.6),
    (("esso",), "400250", 0.7),
    (("shell",), "400250", 0.6),
    (("carburant",), "400250", 0.7),
    (("peage",), "400270", 0.7),
    (("autoroute",), "400270", 0.6),
    (("parking",), "400270", 0.6),
    (("pharmacie",), "400610", 0.8),
    (("pharmacy",), "400610", 0.8),
    (("medecin",), "400610", 0.7),
    (("docteur",), "400610", 0.7),
    (("dr",), "400610", 0.3),
    (("dentiste",), "400610", 0.8),
    (("cpam",), "400610", 0.8),
    (("ameli",), "400610", 0.8),
    (("assurance", "maladie"), "400610", 0.8),
    (("mutuelle",), "400620", 0.7),
    (("harmonie",), "400620", 0.6),
    (("mgen",), "400620", 0.7),
    (("restaurant",), "400810", 0.7),
    (("resto",), "400810", 0.6),
    (("mcdonald",), "400810", 0.6),
    (("mcdo",), "400810", 0.6),
    (("cafe",), "400810", 0.4),
    (("bar",), "400810", 0.3),
    (("cinema",), "400830", 0.6),
    (("hotel",), "400840", 0.6),
    (("airbnb",), "400840", 0.7),
    (("loyer",), "401020", 0.8),
    (("rent",), "401020", 0.7),
    (("edf",), "401080", 0.8),
    (("engie",), "401080", 0.8),
    (("electricite",), "401080", 0.7),
    (("gaz",), "401080", 0.5),
    (("eau",), "401070", 0.5),
    (("veolia",), "401070", 0.7),
    (("ikea",), "401060", 0.7),
    (("leroy", "merlin"), "401050", 0.8),
    (("castorama",), "401050", 0.8),
    (("impot",), "400510", 0.7),
    (("impots",), "400510", 0.7),
    (("dgfip",), "400510", 0.8),
    (("taxe", "fonciere"), "400540", 0.8),
    (("retrait",), "300", 0.7),
    (("dab",), "300", 0.7),
    (("atm",), "300", 0.7),
    (("cheque",), "200", 0.6),
    (("commission",), "400340", 0.5),
    (("frais",), "400340", 0.4),
    (("cotisation", "carte"), "400340", 0.6),
    (("agios",), "400340", 0.8),
    (("la", "poste"), "400310", 0.6),
    (("epargne",), "600170", 0.6),
    (("livret",), "600170", 0.6),
    (("creche",), "400430", 0.7),
    (("cantine",), "400420", 0.7),
    (("assurance", "auto"), "400230", 0.7),
    (("decathlon",), "400720", 0.7),
    (("coiffeur",), "400190", 0.7),
    (("zara",), "400130", 0.6),
    (("kiabi",), "400130", 0.7),
)


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def words_of(label: str) -> list[str]:
    """The label's telling words: folded to plain lowercase, without digits-only parts,
    dates, card numbers or bank wording."""
    return [
        word
        for word in _WORD.findall(_plain(label))
        if word not in STOP_WORDS
        and not any(ch.isdigit() for ch in word[1:])
        and set(word) != {"x"}  # masked card numbers
    ]


def _all_words(label: str) -> set[str]:
    # The rules also see bank wording ("frais", "la poste"): stop words are for the model.
    return set(_WORD.findall(_plain(label)))


@dataclass(frozen=True)
class Guess:
    category: str
    probability: float


def rule_guess(label: str) -> Guess | None:
    """The built-in table's category for a label (the surest matching rule), or None."""
    present = _all_words(label)
    best: Guess | None = None
    for needed, category, probability in SEED_RULES:
        if all(word in present for word in needed):
            if best is None or probability > best.probability:
                best = Guess(category, probability)
    return best


def _sign(amount: object) -> str:
    value = float(amount) if isinstance(amount, int | float) else 0.0
    return "__credit" if value > 0 else "__debit"


class LocalModel:
    """Naive Bayes over the words of the labels the person categorised by hand."""

    def __init__(self, corrections: Iterable[Mapping[str, Any]]) -> None:
        self.documents: Counter[str] = Counter()
        self.words: dict[str, Counter[str]] = defaultdict(Counter)
        self.vocabulary: set[str] = set()
        for doc in corrections:
            category = doc.get("manualCategoryId")
            label = doc.get("label")
            if not isinstance(category, str) or not _CATEGORY_ID.fullmatch(category):
                continue
            if not isinstance(label, str):
                continue
            words = words_of(label)
            if not words:
                continue
            self.documents[category] += 1
            self.words[category].update([*words, _sign(doc.get("amount"))])
            self.vocabulary.update(words)

    @property
    def empty(self) -> bool:
        return not self.documents

    def guess(self, label: str, amount: object) -> Guess | None:
        words = words_of(label)
        known = [word for word in words if word in self.vocabulary]
        if not known:
            return None
        features = [*known, _sign(amount)]
        total = sum(self.documents.values())
        # A light smoothing: with the few corrections a person makes, add-one smoothing
        # would leave every posterior near even.
        smoothing = 0.1
        size = (len(self.vocabulary) + 2) * smoothing
        scores: dict[str, float] = {}
        for category, count in self.documents.items():
            counts = self.words[category]
            denominator = sum(counts.values()) + size
            score = math.log(count / total)
            for word in features:
                score += math.log((counts[word] + smoothing) / denominator)
            scores[category] = score
        top = max(scores.values())
        weights = {category: math.exp(score - top) for category, score in scores.items()}
        norm = sum(weights.values())
        best = max(weights, key=lambda category: (weights[category], category))
        # How much of the label this category has seen: unseen words lower the confidence.
        coverage = sum(1 for word in words if self.words[best][word]) / len(words)
        return Guess(best, round(weights[best] / norm * coverage, 4))


def categorised_fields(doc: Mapping[str, Any], model: LocalModel) -> dict[str, Any]:
    """The fields the categoriser writes on an operation (its own fields only: the
    person's `manualCategoryId` and the bank's `automaticCategoryId` are never touched)."""
    label = doc.get("label")
    text = label if isinstance(label, str) else ""
    fields: dict[str, Any] = {"toCategorize": False}
    local = model.guess(text, doc.get("amount"))
    if local is not None:
        fields["localCategoryId"] = local.category
        fields["localCategoryProba"] = local.probability
    rule = rule_guess(text)
    if rule is not None:
        fields["cozyCategoryId"] = rule.category
        fields["cozyCategoryProba"] = rule.probability
    return fields
