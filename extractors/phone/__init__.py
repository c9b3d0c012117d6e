"""Phone databases of people: contacts (Android, iOS, WhatsApp) and call logs (Android, iOS)."""
