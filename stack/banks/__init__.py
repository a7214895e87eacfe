"""Banks: the person's accounts and operations (`io.cozy.bank.*`, Cozy's shapes), their
categories (guessed by the sandboxed categoriser app every instance has, which learns from
the person's corrections), recurring operations, health reimbursements, charts and alerts.
`BankService` is the entry point."""

from roost.banks.service import TRIGGER_ID, WORKER, BankService

__all__ = ["TRIGGER_ID", "WORKER", "BankService"]
