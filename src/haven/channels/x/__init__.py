"""The X (Twitter) channel: API client, payload parsing, mention polling and delivery."""
