"""OpenAI's wire shapes that every modelyard HTTP server speaks: the proxy, the supervisor's
admin API and the speech sidecars. A leaf: it imports nothing of the project."""
