"""Request signatures shared by a provider and the sandbox that checks them; imports nothing from either."""
