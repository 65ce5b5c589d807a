"""Reward rules in motion: what a referral earns, when it qualifies, and what each run does
with it (hold, approve, release, void, claw back, net). Pure: no I/O."""
