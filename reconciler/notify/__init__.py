"""Notifications: what an apply or a drift check tells people (Slack, Teams, a signed JSON webhook)."""
