"""The public web app: referral landing pages, the hand-typed code form, one-click
unsubscribe and SendGrid's event webhook. Server-rendered, works without JavaScript."""
