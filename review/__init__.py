"""Caseworker review: the queue of referred and missed check-ins, decisions with reasons and their history,
compliance per wearer and per caseload, CSV exports, aggregate evidence reports and the server-rendered pages."""
