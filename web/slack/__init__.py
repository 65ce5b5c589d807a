"""Slack interactivity: the digest's and the approver's buttons, the intro form, the global
shortcut and ``/refer``, on Bolt, mounted at ``POST /slack/events`` when configured."""

EVENTS_PATH = "/slack/events"
