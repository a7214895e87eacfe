"""HTTP: one router module per URL prefix; handlers parse, check permission, call a service."""
