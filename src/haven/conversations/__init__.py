"""Conversation lifecycle, threading, assignment; access_conversation() checks permission."""
