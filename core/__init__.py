"""Shared infrastructure: settings, database, errors, clock and identifiers. Depends on no domain package."""
