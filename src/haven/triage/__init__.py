"""Understanding inbound posts: intent, priority, sentiment, language, exposed private data."""
