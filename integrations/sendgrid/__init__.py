"""SendGrid: the email port's real adapter (``mail``) and its event webhook (``webhook``)."""
