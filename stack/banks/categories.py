"""Cozy's bank categories: numeric string ids in a fixed tree (13 parents, 94 ids).

The table is Cozy Banks' `src/ducks/categories/tree.json` with its English and French names
(`Data.categories` / `Data.subcategories`), so operations categorised here read the same in
Cozy and back. `displayed_category(doc)` is Cozy's rule for which of an operation's category
fields is shown (cozy-doctypes `BankTransaction.js`): the person's, else the local model's
when sure, else the global model's, else the bank's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class Category:
    id: str
    slug: str
    english: str
    french: str
    parent: str | None  # None for the 13 parents

    def name(self, language: str) -> str:
        return self.french if language == "fr" else self.english


_TABLE: Final = (
    Category("0", "uncategorized", "To be categorized", "A catégoriser", None),
    Category("100", "potentialTransfer", "Potential transfers", "Virements à catégoriser", "0"),
    Category("200", "check", "Checks", "Chèques", "0"),
    Category("300", "atm", "Cash withdrawal", "Retraits d'espèces", "0"),
    Category("200100", "incomeCat", "Earnings", "Revenus", None),
    Category("200110", "activityIncome", "Activity income", "Salaire/Revenus d'activité", "200100"),
    Category(
        "200120", "replacementIncome", "Replacement income", "Revenus de remplacement", "200100"
    ),
    Category("200130", "interests", "Interests", "Intérêts", "200100"),
    Category("200140", "dividends", "Dividends", "Dividendes", "200100"),
    Category("200150", "donationsReceived", "Donations received", "Cadeaux, dons reçus", "200100"),
    Category("200160", "allocations", "Allocations", "Aides et allocations", "200100"),
    Category("200170", "rentalIncome", "Rental income", "Revenus locatifs", "200100"),
    Category(
        "200180", "additionalIncome", "Additional income", "Revenus complémentaires", "200100"
    ),
    Category("200190", "retirement", "Retirement", "Retraite", "200100"),
    Category("400100", "dailyLife", "Everyday life", "Dépenses vie courante", None),
    Category("400110", "supermarket", "Supermarket", "Alimentation, supermarché", "400100"),
    Category("400111", "tobaccoPress", "Tobacco press", "Tabac/Presse", "400100"),
    Category(
        "400112", "shoppingECommerce", "Shopping and E-commerce", "Shopping/e-Commerce", "400100"
    ),
    Category("400120", "consumerLoan", "Consumer loan", "Remb. prêt conso", "400100"),
    Category("400130", "dressing", "Dressing", "Habillement", "400100"),
    Category("400140", "pets", "Pets", "Animaux", "400100"),
    Category("400150", "telecom", "Telecom", "Internet, TV, télécom", "400100"),
    Category(
        "400160", "snaksAndworkMeals", "Snacks and work meals", "Snacks, repas au travail", "400100"
    ),
    Category("400170", "charity", "Charity", "Dons caritatifs", "400100"),
    Category("400180", "giftsOffered", "Gifts offered", "Cadeaux offerts", "400100"),
    Category(
        "400190",
        "personalCare",
        "Personal care",
        "Coiffeur, esthétique, cosmétique, soins",
        "400100",
    ),
    Category("400200", "transportation", "Transportation, vehicles", "Transports, véhicules", None),
    Category("400205", "vehiculePurchase", "Vehicule purchase", "Achat véhicule", "400200"),
    Category("400210", "vehiculeLoan", "Vehicule loan", "Remb. prêt véhicule", "400200"),
    Category("400220", "vehiculeRental", "Vehicule rental", "Location véhicule", "400200"),
    Category("400230", "vehiculeInsurance", "Vehicule insurance", "Assurance véhicule", "400200"),
    Category(
        "400240",
        "vehiculeMaintenance",
        "Vehicule maintenance",
        "Entretien, équipements véhicules",
        "400200",
    ),
    Category("400250", "vehiculeGas", "Vehicule gas", "Carburant", "400200"),
    Category("400260", "privateParking", "Private parking", "Garage, parking privé", "400200"),
    Category("400270", "parkingAndToll", "Parking and toll", "Parking, péages, PV", "400200"),
    Category(
        "400280", "publicTransportation", "Public transportation", "Transports en commun", "400200"
    ),
    Category("400290", "taxi", "Taxi", "Taxi et VTC", "400200"),
    Category("400300", "services", "Services", "Services", None),
    Category("400310", "post", "Post service", "Poste, courrier", "400300"),
    Category("400320", "legalCounsel", "Legal counseling", "Conseil juridique", "400300"),
    Category("400330", "homeAssistance", "Home assistance", "Aide-à-domicile", "400300"),
    Category("400340", "bankFees", "Bank fees", "Frais bancaires", "400300"),
    Category("400350", "financialAdvisor", "Financial advisor", "Conseil financier", "400300"),
    Category("400400", "kids", "Children", "Enfants", None),
    Category("400410", "kidsAllowance", "Kids allowance", "Argent de poche", "400400"),
    Category("400420", "schoolRestaurant", "School restaurant", "Restauration scolaire", "400400"),
    Category("400430", "childCare", "Child care", "Garde d'enfants", "400400"),
    Category("400440", "schoolInsurance", "School insurance", "Assurance scolaire", "400400"),
    Category("400450", "toysAndGifts", "Toys and gifts", "Jouets, cadeaux", "400400"),
    Category("400460", "pensionPaid", "Pension paid", "Pension versée", "400400"),
    Category("400470", "kidsActivities", "Kids activities", "Activités enfants", "400400"),
    Category("400500", "tax", "Taxes", "Impôts", None),
    Category("400510", "incomeTax", "Income tax", "Impôts sur le revenu", "400500"),
    Category("400520", "socialTax", "Social tax", "Contributions sociales", "400500"),
    Category("400530", "wealthTax", "Wealth tax", "ISF", "400500"),
    Category(
        "400540", "realEstateTax", "Real estate tax", "Taxes foncières, d'habitation", "400500"
    ),
    Category("400600", "health", "Health", "Santé, prévoyance", None),
    Category("400610", "healthExpenses", "Health expenses", "Frais, remb santé", "400600"),
    Category(
        "400620", "healthInsurance", "Health insurance", "Cotis mutuelle, prévoyance", "400600"
    ),
    Category("400700", "activities", "Leisure, sports", "Sports, loisirs", None),
    Category("400710", "activityFees", "Activity fees", "Cotis. sports, loisirs", "400700"),
    Category(
        "400720",
        "activityEquipments",
        "Activity equipments",
        "Equipement sports, loisirs",
        "400700",
    ),
    Category("400730", "activityLessons", "Activity lessons", "Cours sports, loisirs", "400700"),
    Category(
        "400740",
        "electronicsAndMultimedia",
        "Electronics and multimedia",
        "Electronique, multimédia",
        "400700",
    ),
    Category(
        "400750", "booksMoviesMusic", "Books, movies, music", "Musique, livres, films", "400700"
    ),
    Category("400760", "hobbyAndPassion", "Hobby and passion", "Passion, hobby", "400700"),
    Category("400800", "goingOutAndTravel", "Outings, trips", "Sorties, voyages", None),
    Category(
        "400810", "restaurantsAndBars", "Restaurants and bars", "Restaurants, soirées", "400800"
    ),
    Category(
        "400820", "goingOutEntertainment", "Going out entertainment", "Sorties détente", "400800"
    ),
    Category("400830", "goingOutCulture", "Going out culture", "Sorties culturelles", "400800"),
    Category("400840", "travel", "Travel", "Voyages", "400800"),
    Category("400850", "journey", "Plane/train/boat...", "Avion/train/bateau...", "400800"),
    Category("400900", "educationAndTraining", "Education, training", "Education, formation", None),
    Category("400910", "tuition", "Tuition", "Inscription, scolarité", "400900"),
    Category(
        "400920",
        "eduBooksAndSupplies",
        "Edu books and supplies",
        "Livres, fournitures (éducation)",
        "400900",
    ),
    Category("400930", "studentLoan", "Student loan", "Remb. prêt étudiant", "400900"),
    Category("400940", "eduLessons", "Edu lessons", "Cours, soutien scolaire", "400900"),
    Category("401000", "homeAndRealEstate", "Housing, real estate", "Logement, immobilier", None),
    Category("401010", "realEstateLoan", "Real estate loan", "Remb. prêt immobilier", "401000"),
    Category("401020", "rent", "Rent", "Loyer", "401000"),
    Category("401030", "homeCharges", "Home charges", "Charges logement", "401000"),
    Category("401040", "homeInsurance", "Home insurance", "Assurance logement", "401000"),
    Category("401050", "homeImprovement", "Home improvement", "Travaux, déco, jardin", "401000"),
    Category("401060", "homeHardware", "Home hardware", "Meubles, équipement", "401000"),
    Category("401070", "water", "Water", "Eau", "401000"),
    Category("401080", "power", "Power", "Electricité, gaz, chauffage", "401000"),
    Category("600100", "excludeFromBudgetCat", "Out of budget", "Hors budget", None),
    Category("600110", "internalTransfer", "Internal transfer", "Virements internes", "600100"),
    Category(
        "600120", "creditCardPayment", "Credit card payment", "Prél. carte débit différé", "600100"
    ),
    Category("600130", "loanCredit", "Loan credit", "Déblocage prêt, crédits, réserves", "600100"),
    Category(
        "600140", "professionalExpenses", "Professional expenses", "Notes de frais (+/-)", "600100"
    ),
    Category(
        "600150", "investmentBuySell", "Investment buy sell", "Achats, ventes de titres", "600100"
    ),
    Category("600160", "friendBorrowing", "Friend borrowing", "Avances, remboursements", "600100"),
    Category("600170", "savings", "Savings", "Virements d'épargne", "600100"),
)

CATEGORIES: Final[dict[str, Category]] = {category.id: category for category in _TABLE}
PARENTS: Final = tuple(category.id for category in _TABLE if category.parent is None)
UNCATEGORIZED: Final = "0"
HEALTH: Final = "400600"
INCOME: Final = "200100"
# Cozy's thresholds: the local model (the person's own corrections) is shown when it is
# surer than 0.8, the global one (here: Roost's built-in rule table) above 0.15.
LOCAL_MODEL_THRESHOLD: Final = 0.8
GLOBAL_MODEL_THRESHOLD: Final = 0.15


def is_category(category_id: object) -> bool:
    return isinstance(category_id, str) and category_id in CATEGORIES


def parent_of(category_id: str) -> str:
    """The parent (one of PARENTS) of an id: trailing digits zeroed until one is found, as
    Cozy's `categoriesMap.js` does; an unknown id falls under "0" (to be categorised)."""
    if category_id in PARENTS:
        return category_id
    if category_id not in CATEGORIES:
        return UNCATEGORIZED
    digits = category_id
    for width in range(1, len(digits) + 1):
        candidate = digits[:-width] + "0" * width
        if candidate in PARENTS:
            return candidate
    return UNCATEGORIZED


def category_name(category_id: str, language: str) -> str:
    found = CATEGORIES.get(category_id) or CATEGORIES[UNCATEGORIZED]
    return found.name(language)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def displayed_category(doc: Mapping[str, Any]) -> str:
    """The category id shown for an operation document (Cozy's display rule)."""
    manual = doc.get("manualCategoryId")
    if is_category(manual):
        return str(manual)
    local = doc.get("localCategoryId")
    if is_category(local) and _number(doc.get("localCategoryProba")) > LOCAL_MODEL_THRESHOLD:
        return str(local)
    cozy = doc.get("cozyCategoryId")
    if is_category(cozy) and _number(doc.get("cozyCategoryProba")) > GLOBAL_MODEL_THRESHOLD:
        return str(cozy)
    automatic = doc.get("automaticCategoryId")
    if is_category(automatic):
        return str(automatic)
    return UNCATEGORIZED


def choices(language: str) -> list[dict[str, Any]]:
    """Every category, grouped under its parent, for a select list."""
    groups = []
    for parent in PARENTS:
        children = [c for c in _TABLE if c.parent == parent]
        groups.append(
            {
                "id": parent,
                "name": CATEGORIES[parent].name(language),
                "children": [{"id": c.id, "name": c.name(language)} for c in children],
            }
        )
    return groups
