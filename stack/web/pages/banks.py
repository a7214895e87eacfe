"""`/banks`: accounts and balances, operations with search and filters, charts, recurring
operations, health reimbursements and the person's alerts.

- `GET /banks`: the page; the query string holds the filters (`account`, `category`, `from`,
  `to`, `min`, `max`, `q`), the page cursor (`after`) and the month of the spending chart;
- `GET /banks/operations/{id}`: one operation, its bills, and the form to change its category;
- `POST /banks/operations/{id}/category`: the person's category (Cozy's `manualCategoryId`);
- `POST /banks/alerts`, `POST /banks/alerts/{kind}/{id}/delete`: the alerts;
- `POST /banks/csv-mappings`, `POST /banks/csv-mappings/{id}/delete`: the saved column
  mappings the bank-statement importer reads CSV exports with.

Thin: the filters, pages, sums and rules are `roost.banks`'; every read and write asks the
permission decision about the bank doctypes first.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from roost.banks import BankService
from roost.banks.accounts import Account, balance_of, grouped
from roost.banks.alerts import KINDS
from roost.banks.categories import INCOME, category_name, choices
from roost.banks.charts import balance_chart, spending_chart
from roost.banks.csv_mappings import (
    MAPPINGS_DOCTYPE,
    CsvMappings,
    MappingFormInvalid,
    mapping_from_form,
)
from roost.banks.doctypes import (
    ACCOUNTS_DOCTYPE,
    BILLS_DOCTYPE,
    OPERATIONS_DOCTYPE,
    RECURRENCE_DOCTYPE,
    SETTINGS_DOCTYPE,
)
from roost.banks.operations import (
    Operation,
    OperationCursor,
    OperationFilter,
)
from roost.banks.reimbursements import Bill
from roost.banks.summary import balance_history
from roost.errors import BadRequest, Forbidden, NotFound, RoostError
from roost.web.error_table import answer_for
from roost.web.forms import read_owner_form
from roost.web.i18n import PageLanguage, language_of
from roost.web.pages.shell import Owner, owner_or_login, render, signed_in_owner

HISTORY_MONTHS: Final = 12
REFUSED: Final = "this session may not read the bank accounts and operations"
_SOURCES: Final = {
    "manual": "chosen by you",
    "learned": "learned from your corrections",
    "rules": "guessed from the label",
    "bank": "given by the bank",
    "none": "",
}


def _banks(owner: Owner) -> BankService:
    return owner.services.banks


def _money(language: PageLanguage, amount: float, currency: str) -> str:
    return format_currency(amount, currency, locale=language.code)


def _month_label(month: str, language: PageLanguage, *, long: bool = False) -> str:
    try:
        first = date.fromisoformat(month + "-01")
    except ValueError:
        return month
    return format_skeleton("yMMMM" if long else "yMMM", first, locale=Locale.parse(language.code))


def _day_label(day: str, language: PageLanguage) -> str:
    try:
        return format_date(date.fromisoformat(day[:10]), format="medium", locale=language.code)
    except ValueError:
        return day


def _months_before(last: str, count: int) -> list[str]:
    year, month = int(last[:4]), int(last[5:7])
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(months))


async def _none() -> None:
    return None


async def _empty() -> list[Any]:
    return []


def _last_day(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    following = date(year + number // 12, number % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1).isoformat()


def _operation_view(
    operation: Operation,
    language: PageLanguage,
    accounts: dict[str, Account],
    bills: dict[str, Bill],
) -> dict[str, Any]:
    account = accounts.get(operation.account)
    return {
        "id": operation.id,
        "label": operation.label,
        "day": operation.day,
        "day_label": _day_label(operation.day, language),
        "amount": _money(language, operation.amount, operation.currency),
        "credit": operation.amount > 0,
        "account": account.label if account else "",
        "account_id": operation.account,
        "category": operation.category,
        "category_name": category_name(operation.category, language.code),
        "source": _SOURCES[operation.category_source],
        "bills": [
            _bill_view(bills[bill_id], language) for bill_id in operation.bills if bill_id in bills
        ],
    }


def _bill_view(bill: Bill, language: PageLanguage) -> dict[str, Any]:
    return {
        "id": bill.id,
        "vendor": bill.vendor,
        "amount": _money(language, bill.amount, "EUR"),
        "day_label": _day_label(bill.date, language),
        "file_id": bill.file_id,
        "operation_id": bill.operation_id,
    }


def _require_read(owner: Owner) -> None:
    if not (owner.may("GET", ACCOUNTS_DOCTYPE) and owner.may("GET", OPERATIONS_DOCTYPE)):
        raise Forbidden(REFUSED)


async def _filters(owner: Owner, request: Request) -> OperationFilter:
    filters = OperationFilter.parse(request.query_params)
    if filters.account and await _banks(owner).account(owner.instance, filters.account) is None:
        raise BadRequest("there is no such account")
    return filters


async def banks_page(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    _require_read(owner)
    try:
        filters = await _filters(owner, request)
        after = (
            OperationCursor.decode(request.query_params["after"])
            if "after" in request.query_params
            else None
        )
    except BadRequest as refused:
        # A refused request writes nothing: the page says why, from what is stored.
        return await _render_page(
            request, owner, OperationFilter(), None, status_code=400, error=refused.reason
        )
    await _banks(owner).ensure_trigger(owner.instance)
    return await _render_page(request, owner, filters, after)


async def _render_page(
    request: Request,
    owner: Owner,
    filters: OperationFilter,
    after: OperationCursor | None,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    mapping_problems: dict[str, str] | None = None,
    mapping_posted: dict[str, str] | None = None,
) -> Response:
    banks = _banks(owner)
    instance = owner.instance
    language = PageLanguage(language_of(request))
    # The page's independent questions to the store, asked at once.
    may_recur = owner.may("GET", RECURRENCE_DOCTYPE)
    may_bills = owner.may("GET", BILLS_DOCTYPE)
    may_alerts = owner.may("GET", SETTINGS_DOCTYPE)
    may_mappings = owner.may("GET", MAPPINGS_DOCTYPE)
    # Asked alongside the others (asyncio.gather types six answers at most).
    saved_mappings = asyncio.ensure_future(
        CsvMappings(owner.services.documents).all(instance) if may_mappings else _empty()
    )
    (
        accounts,
        flows,
        page,
        recurrence_docs,
        health_bills,
        rules,
    ) = await asyncio.gather(
        banks.accounts.all(instance),
        # A refused request (`error`) writes nothing, not even fresh sums.
        banks.summaries.current(instance, compute=error is None),
        banks.operations.page(instance, filters, after=after) if error is None else _none(),
        banks.recurrences(instance) if may_recur else _empty(),
        banks.reimbursements.health_bills(instance) if may_bills else _empty(),
        banks.alert_rules(instance) if may_alerts else _empty(),
    )
    mappings = await saved_mappings
    by_id = {account.id: account for account in accounts}
    if not flows.fresh and error is None:
        banks.schedule_refresh(instance)
    balances = grouped(accounts, flows.by_account)
    bills: dict[str, Bill] = {}
    if page is not None and may_bills:
        bills = await banks.reimbursements.bills(
            instance, [bill for operation in page.operations for bill in operation.bills]
        )
    currency = accounts[0].currency if accounts else "EUR"

    # Balance history: the chosen account, else every account.
    shown_accounts = [by_id[filters.account]] if filters.account in by_id else accounts
    this_month = datetime.now(UTC).strftime("%Y-%m")
    months = _months_before(this_month, HISTORY_MONTHS)
    monthly: dict[str, float] = {}
    balance_now = 0.0
    for account in shown_accounts:
        balance_now += balance_of(account, flows.by_account)
        for month, value in flows.by_account_month.get(account.id, {}).items():
            monthly[month] = monthly.get(month, 0.0) + value
    history = balance_history(balance_now, monthly, months) if shown_accounts else []
    history_rows = [
        {"month": _month_label(month, language), "balance": _money(language, value, currency)}
        for month, value in history
    ]
    history_svg = balance_chart(
        [(_month_label(month, language), value) for month, value in history],
        title=language.gettext("Balance at the end of each month"),
        description=language.gettext(
            "From %(first)s to %(last)s. The same numbers are in the table below.",
            first=history_rows[0]["month"] if history_rows else "",
            last=history_rows[-1]["month"] if history_rows else "",
        ),
        chart_id="balance-chart",
    )

    # Spending by category, for one month.
    spending = flows.spending
    spending_months = sorted(spending, reverse=True)
    month = request.query_params.get("month", "")
    if month not in spending:
        month = spending_months[0] if spending_months else ""
    by_category = sorted(spending.get(month, {}).items(), key=lambda item: (-item[1], item[0]))
    spending_rows = [
        {
            "id": category,
            "name": category_name(category, language.code),
            "amount": _money(language, amount, currency),
            "first": f"{month}-01",
            "last": _last_day(month),
        }
        for category, amount in by_category
        if category != INCOME
    ]
    spending_svg = spending_chart(
        [
            (category_name(category, language.code), amount)
            for category, amount in by_category
            if category != INCOME
        ],
        title=language.gettext(
            "Spending by category in %(month)s", month=_month_label(month, language, long=True)
        ),
        description=language.gettext("The same numbers are in the table below."),
        chart_id="spending-chart",
    )

    recurrences = []
    if may_recur:
        for doc in recurrence_docs:
            amounts = doc.get("amounts") or [0]
            recurrences.append(
                {
                    "label": doc.get("manualLabel") or doc.get("automaticLabel") or "",
                    "frequency": doc.get("frequency") or "monthly",
                    "amount": _money(language, float(amounts[0]), currency),
                    "credit": float(amounts[0]) > 0,
                    "latest": _day_label(str(doc.get("latestDate") or ""), language),
                    "next": _day_label(str(doc.get("nextDate") or ""), language),
                    "ongoing": doc.get("status") == "ongoing",
                    "category": category_name(
                        str((doc.get("categoryIds") or ["0"])[0]), language.code
                    ),
                    "count": doc.get("count") or 0,
                }
            )

    health = [_bill_view(bill, language) for bill in health_bills]

    alerts = []
    if may_alerts:
        for rule in rules:
            scope = by_id.get(rule.account or "")
            alerts.append(
                {
                    "kind": rule.kind,
                    "id": rule.id,
                    "value": _money(language, rule.value, scope.currency if scope else currency),
                    "account": scope.label if scope else None,
                }
            )

    operations = []
    next_link = None
    if page is not None:
        operations = [
            _operation_view(operation, language, by_id, bills) for operation in page.operations
        ]
        if page.cursor is not None:
            next_link = "/banks?" + urlencode({**filters.query(), "after": page.cursor.encode()})
    context = {
        "balances": {
            "total": _money(language, balances.total, currency),
            "groups": [
                {
                    "name": group.name,
                    "total": _money(language, group.total, currency),
                    "accounts": [
                        {
                            "id": account.id,
                            "label": account.label,
                            "institution": account.institution,
                            "number": account.number,
                            "balance": _money(
                                language, balance_of(account, flows.by_account), account.currency
                            ),
                            "negative": balance_of(account, flows.by_account) < 0,
                        }
                        for account in group.accounts
                    ],
                }
                for group in balances.groups
            ],
        },
        "accounts": [{"id": account.id, "label": account.label} for account in accounts],
        "filters": filters,
        "filter_query": request.query_params,
        "filtered": filters.active or after is not None,
        "operations": operations,
        "next_link": next_link,
        "categories": choices(language.code),
        "history_svg": history_svg,
        "history_rows": history_rows,
        "spending_svg": spending_svg,
        "spending_rows": spending_rows,
        "spending_month": month,
        "spending_months": [
            {"value": value, "label": _month_label(value, language, long=True)}
            for value in spending_months[:24]
        ],
        "spending_month_label": _month_label(month, language, long=True) if month else "",
        "recurrences": recurrences,
        "health": health,
        "alerts": alerts,
        "alert_kinds": KINDS,
        "error": error,
        "notice": notice,
        "sums_fresh": flows.fresh,
        "may_mappings": may_mappings,
        "mappings": mappings,
        "mapping_problems": mapping_problems or {},
        "mapping_posted": mapping_posted or {},
    }
    return await render(
        request, owner, "banks.html", context, space="banks", status_code=status_code
    )


async def operation_page(
    request: Request, *, error: str | None = None, status: int = 200
) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    _require_read(owner)
    banks = _banks(owner)
    language = PageLanguage(language_of(request))
    operation_id = request.path_params["operation_id"]
    if operation_id.startswith("_"):
        raise NotFound("missing")
    doc = await owner.services.documents.get(owner.instance, OPERATIONS_DOCTYPE, operation_id)
    operation = Operation.from_doc(doc)
    accounts = {account.id: account for account in await banks.accounts.all(owner.instance)}
    bills: dict[str, Bill] = {}
    if owner.may("GET", BILLS_DOCTYPE):
        bills = await banks.reimbursements.bills(owner.instance, operation.bills)
    manual = doc.get("manualCategoryId")
    context = {
        "operation": _operation_view(operation, language, accounts, bills),
        "rev": doc.get("_rev"),
        "shown_manual": manual if isinstance(manual, str) else "",
        "categories": choices(language.code),
        "error": error,
    }
    return await render(
        request, owner, "banks_operation.html", context, space="banks", status_code=status
    )


async def correct_category(request: Request) -> Response:
    owner = await signed_in_owner(request, "this session may not change bank operations")
    fields = await read_owner_form(request)
    if not owner.may("PUT", OPERATIONS_DOCTYPE):
        raise Forbidden("this session may not change bank operations")
    operation_id = request.path_params["operation_id"]
    rev = fields.get("rev") or None
    shown = fields.get("shown_manual")
    if rev is not None and shown is not None and not operation_id.startswith("_"):
        current = await owner.services.documents.get_or_none(
            owner.instance, OPERATIONS_DOCTYPE, operation_id
        )
        # Machines write on operations too (the categoriser's guesses, an importer's newer
        # copy): the person's choice still applies over those. Only a category the person
        # chose meanwhile (in another tab) makes this form stale.
        if current is not None and str(current.get("manualCategoryId") or "") == shown:
            rev = str(current["_rev"])
    try:
        await _banks(owner).correct_category(
            owner.instance, operation_id, fields.get("category", ""), rev
        )
    except NotFound:
        raise
    except RoostError as refused:
        return await operation_page(
            request, error=refused.reason, status=answer_for(refused).status
        )
    return RedirectResponse(f"/banks#operation-{operation_id}", status_code=303)


async def add_alert(request: Request) -> Response:
    owner = await signed_in_owner(request, "this session may not change the Banks alerts")
    fields = await read_owner_form(request)
    _require_read(owner)
    if not (owner.may("PUT", SETTINGS_DOCTYPE) and owner.may("POST", SETTINGS_DOCTYPE)):
        raise Forbidden("this session may not change the Banks alerts")
    kind = fields.get("kind", "")
    try:
        await _banks(owner).add_alert(
            owner.instance, kind, fields.get("value", ""), fields.get("account") or None
        )
    except RoostError as refused:
        return await _render_page(
            request,
            owner,
            OperationFilter(),
            None,
            status_code=answer_for(refused).status,
            error=refused.reason,
        )
    return RedirectResponse("/banks#alerts", status_code=303)


async def remove_alert(request: Request) -> Response:
    owner = await signed_in_owner(request, "this session may not change the Banks alerts")
    await read_owner_form(request)
    if not owner.may("PUT", SETTINGS_DOCTYPE):
        raise Forbidden("this session may not change the Banks alerts")
    try:
        rule_id = int(request.path_params["rule_id"])
    except ValueError:
        raise BadRequest("an alert's id is a number") from None
    await _banks(owner).remove_alert(owner.instance, request.path_params["kind"], rule_id)
    return RedirectResponse("/banks#alerts", status_code=303)


async def save_mapping(request: Request) -> Response:
    owner = await signed_in_owner(request, "this session may not change the CSV mappings")
    fields = await read_owner_form(request)
    _require_read(owner)
    if not owner.may("POST", MAPPINGS_DOCTYPE):
        raise Forbidden("this session may not change the CSV mappings")
    try:
        body = mapping_from_form(fields)
        await CsvMappings(owner.services.documents).save(owner.instance, body)
    except MappingFormInvalid as refused:
        return await _render_page(
            request,
            owner,
            OperationFilter(),
            None,
            status_code=400,
            mapping_problems=refused.problems,
            mapping_posted={k: v for k, v in fields.items() if k != "csrf_token"},
        )
    except BadRequest as refused:
        return await _render_page(
            request, owner, OperationFilter(), None, status_code=400, error=refused.reason
        )
    return RedirectResponse("/banks#csv-mappings", status_code=303)


async def remove_mapping(request: Request) -> Response:
    owner = await signed_in_owner(request, "this session may not change the CSV mappings")
    await read_owner_form(request)
    if not owner.may("DELETE", MAPPINGS_DOCTYPE):
        raise Forbidden("this session may not change the CSV mappings")
    await CsvMappings(owner.services.documents).delete(
        owner.instance, request.path_params["mapping_id"]
    )
    return RedirectResponse("/banks#csv-mappings", status_code=303)


ROUTES = [
    Route("/banks", banks_page, methods=["GET"]),
    Route("/banks/alerts", add_alert, methods=["POST"]),
    Route("/banks/alerts/{kind}/{rule_id}/delete", remove_alert, methods=["POST"]),
    Route("/banks/csv-mappings", save_mapping, methods=["POST"]),
    Route("/banks/csv-mappings/{mapping_id}/delete", remove_mapping, methods=["POST"]),
    Route("/banks/operations/{operation_id}", operation_page, methods=["GET"]),
    Route("/banks/operations/{operation_id}/category", correct_category, methods=["POST"]),
]
