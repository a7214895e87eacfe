// Banks: the alert form asks for an amount only for the alerts that have one.

const kind = document.getElementById("alert-kind");
const value = document.querySelector(".new-alert .alert-value");
const account = document.querySelector(".new-alert .alert-account");

function follow() {
  const reimbursement = kind.value === "healthBillLinked";
  value.hidden = reimbursement;
  account.hidden = reimbursement;
}

if (kind && value && account) {
  kind.addEventListener("change", follow);
  follow();
}
