"""Referrals: what a captured intro must hold, and the rules that decide it. Pure."""
