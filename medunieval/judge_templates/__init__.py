"""Judge prompt templates, kept as package data (byte-exact protocol text)."""
