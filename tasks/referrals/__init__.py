"""Referrals: capture by every share path, decisions, the CRM push and the feedback loop."""
